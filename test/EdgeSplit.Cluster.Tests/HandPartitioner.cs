using System.Security.Cryptography;
using EdgeSplit.Cluster.Coordinator;
using Google.Protobuf;
using Onnx;

namespace EdgeSplit.Cluster.Tests;

/// <summary>Interim partitioner for the tiny test graphs (nodes already in topological order).</summary>
internal sealed class HandPartitioner(byte[] modelBytes) : IPartitionSource
{
    private readonly ModelProto _model = ModelProto.Parser.ParseFrom(modelBytes);

    public int NodeCount => _model.Graph.Node.Count;

    public IReadOnlyList<StagePartition> Split(IReadOnlyList<int> cuts)
    {
        var graph = _model.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name);
        var outputs = graph.Output.Select(o => o.Name).ToHashSet();
        var bounds = cuts.Select(c => c + 1).Prepend(0).Append(graph.Node.Count).ToList();
        var result = new List<StagePartition>();
        var receives = graph.Input.Select(i => i.Name).Where(n => !initializers.ContainsKey(n)).ToList();
        for (var s = 0; s + 1 < bounds.Count; s++)
        {
            var nodes = graph.Node.Skip(bounds[s]).Take(bounds[s + 1] - bounds[s]).ToList();
            var later = graph.Node.Skip(bounds[s + 1]).SelectMany(n => n.Input).Concat(outputs).ToHashSet();
            var produced = nodes.SelectMany(n => n.Output).ToHashSet();
            var inputs = nodes.SelectMany(n => n.Input).Where(n => !initializers.ContainsKey(n) && !produced.Contains(n)).Distinct().ToList();
            var outs = nodes.SelectMany(n => n.Output).Where(later.Contains).ToList();
            var forwards = outs.Concat(receives.Where(r => later.Contains(r) && !outs.Contains(r))).ToList();
            var sub = new GraphProto { Name = $"{graph.Name}_{s}" };
            sub.Node.Add(nodes);
            sub.Initializer.Add(nodes.SelectMany(n => n.Input).Distinct().Where(initializers.ContainsKey).Select(n => initializers[n]));
            sub.Input.Add(inputs.Select(Float));
            sub.Output.Add(outs.Select(Float));
            var model = new ModelProto { IrVersion = _model.IrVersion, Graph = sub };
            model.OpsetImport.Add(_model.OpsetImport);
            var bytes = model.ToByteArray();
            result.Add(new StagePartition(bytes, Convert.ToHexStringLower(SHA256.HashData(bytes)), inputs, forwards));
            receives = forwards;
        }
        return result;
    }

    private static ValueInfoProto Float(string name) => new()
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
    };
}
