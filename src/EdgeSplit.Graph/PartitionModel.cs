using Google.Protobuf;
using Onnx;

namespace EdgeSplit.Graph;

/// <summary>Wraps a partition's graph in a model with its source's IR version, opsets and functions, as EdgeSplit writes every partition.</summary>
internal static class PartitionModel
{
    public static byte[] Serialize(ModelProto source, GraphProto graph)
    {
        var model = new ModelProto
        {
            IrVersion = source.IrVersion,
            ProducerName = "edgesplit",
            ProducerVersion = source.ProducerName.Length > 0 ? $"from {source.ProducerName} {source.ProducerVersion}".Trim() : "",
            Domain = source.Domain,
            ModelVersion = source.ModelVersion,
            Graph = graph,
        };
        model.OpsetImport.AddRange(source.OpsetImport);
        model.Functions.AddRange(source.Functions);
        return model.ToByteArray();
    }
}
