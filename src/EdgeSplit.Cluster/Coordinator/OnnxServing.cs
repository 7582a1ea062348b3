using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Graph;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>Turns a loaded ONNX model into what the coordinator serves, with the Graph partitioner behind it.</summary>
public static class OnnxServing
{
    public static ServedModel Create(OnnxModel model, string name, IReadOnlyList<double>? nodeCostsMs = null) => new(
        name,
        model.Nodes.Count,
        [.. model.Inputs.Select(i => new ModelInputSpec(i.Name, (TensorElementType)(int)i.ElementType, i.Shape?.Select(d => d.Value).ToList()))],
        model.OutputNames,
        new PartitionerSource(model),
        nodeCostsMs);

    /// <summary>Cuts through <see cref="Partitioner"/>; each partition keeps its content hash for agent caching.</summary>
    public sealed class PartitionerSource(OnnxModel model) : IPartitionSource
    {
        private readonly Partitioner _partitioner = new(model);

        public IReadOnlyList<StagePartition> Split(IReadOnlyList<int> cuts) =>
            [.. _partitioner.Split(cuts).Select(p => new StagePartition(p.OnnxBytes, p.Sha256, p.Inputs, p.Forwards))];
    }
}
