using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Graph.Tiling;
using EdgeSplit.Planning;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>An agent the coordinator may use: its device name and <c>host:port</c>.</summary>
public sealed record AgentEndpoint(string Name, string Address);

/// <summary>
/// The standalone ONNX model of one plan stage, with the tensors it consumes from what it receives
/// and the tensors it sends on (its outputs plus received ones still needed later).
/// </summary>
public sealed record StagePartition(byte[] OnnxBytes, string Sha256, IReadOnlyList<string> Inputs, IReadOnlyList<string> Forwards);

/// <summary>Cuts a model into stage partitions (backed by the Graph partitioner).</summary>
public interface IPartitionSource
{
    /// <summary>One partition per segment for ascending <paramref name="cuts"/> (empty = whole model).</summary>
    IReadOnlyList<StagePartition> Split(IReadOnlyList<int> cuts);

    /// <summary>The partitions of a tile group over nodes 0..<paramref name="cut"/>; bad input when the model cannot be tiled so.</summary>
    TileStagePartitions Tiles(int cut, TileGrid grid);
}

/// <summary>A tile group's partitions: the scatter (on the device holding the frame), one per tile, and the gather.</summary>
public sealed record TileStagePartitions(StagePartition Scatter, IReadOnlyList<StagePartition> Tiles, StagePartition Gather);

/// <summary>What the coordinator serves: the model's interface, node count, partitioner and measured costs.</summary>
public sealed record ServedModel(
    string Name,
    int NodeCount,
    IReadOnlyList<ModelInputSpec> Inputs,
    IReadOnlyList<string> OutputNames,
    IPartitionSource Partitions,
    IReadOnlyList<double>? NodeCostsMs = null)
{
    /// <summary>The planners' view of the model (see <see cref="ModelProfiling.Measure"/>); adaptive serving falls back to the node costs without it.</summary>
    public SegmentProfile? Profile { get; init; }

    /// <summary>The model's layers for the dashboard (names and operators; the coordinator adds cut sizes from <see cref="Profile"/>).</summary>
    public ModelLayers? Layers { get; init; }
}
