using EdgeSplit.Cluster.Contracts;
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
}

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
}
