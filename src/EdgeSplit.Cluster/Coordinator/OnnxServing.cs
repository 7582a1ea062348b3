using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Graph;
using EdgeSplit.Graph.Tiling;
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
        nodeCostsMs)
    {
        Layers = new ModelLayers([.. model.Nodes.Select(OnnxModel.NodeLabel)], [.. model.Nodes.Select(n => n.OpType)], null),
    };

    /// <summary>Cuts through <see cref="Partitioner"/> (and tiles through <see cref="TilePartitioner"/>); each partition keeps its content hash for agent caching.</summary>
    public sealed class PartitionerSource(OnnxModel model) : IPartitionSource
    {
        private readonly Partitioner _partitioner = new(model);
        private readonly Lazy<SpatialAnalysis> _analysis = new(() => SpatialAnalysis.Analyse(model, FixedInputShapes(model)));

        public IReadOnlyList<StagePartition> Split(IReadOnlyList<int> cuts) =>
            [.. _partitioner.Split(cuts).Select(Map)];

        public TileStagePartitions Tiles(int cut, TileGrid grid)
        {
            var partitions = new TilePartitioner(model).Build(TileLayout.Compute(_analysis.Value, cut, grid));
            return new TileStagePartitions(Map(partitions.Scatter), [.. partitions.Tiles.Select(Map)], Map(partitions.Gather));
        }

        private static StagePartition Map(Partition p) => new(p.OnnxBytes, p.Sha256, p.Inputs, p.Forwards);

        /// <summary>Tiles are cut in pixels, so every input needs its whole shape.</summary>
        private static Dictionary<string, long[]> FixedInputShapes(OnnxModel model) => model.Inputs.ToDictionary<ModelInput, string, long[]>(
            i => i.Name,
            i => i.Shape is { } shape && shape.All(d => d.Value is > 0)
                ? [.. shape.Select(d => d.Value!.Value)]
                : throw new BadInputException($"input '{i.Name}' has no fixed shape; tiles need one (serve a model with fixed input dimensions)"),
            StringComparer.Ordinal);
    }
}
