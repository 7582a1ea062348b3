using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeSplit.Cluster.Contracts;

/// <summary>One model input as the coordinator checks requests against it (null dims are symbolic, a null shape unknown).</summary>
public sealed record ModelInputSpec(string Name, TensorElementType ElementType, IReadOnlyList<long?>? Shape);

/// <summary>
/// One hop of a served request: its compute time, and the bytes and time of the transfer that
/// brought its input (sender's send timestamp to receipt; assumes clocks in sync, exact on one host).
/// </summary>
public sealed record HopTiming(int Hop, string Device, double ComputeMs, long BytesIn, double TransferInMs, string? FromDevice);

/// <summary>One hop of a plan version as the coordinator deploys it on an agent.</summary>
public sealed record HopDeployment(
    int Hop,
    string? PartitionSha256,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Forwards,
    string? NextAddress,
    string? NextDevice,
    FeatureMapCompression Compression)
{
    /// <summary>Non-empty: the hop sends each target its tensors, concurrently, instead of one next hop (a tile group's scatter).</summary>
    public IReadOnlyList<HopTarget> FanOut { get; init; } = [];

    /// <summary>Above 1: a request runs once this many senders' parts of it have arrived (a tile group's gather).</summary>
    public int Join { get; init; } = 1;

    /// <summary>The hop at <see cref="NextAddress"/>; 0: the one after this (a tile names its group's gather).</summary>
    public int NextHop { get; init; }
}

/// <summary>One receiver of a fanned-out hop: its hop index, address, device and the tensors it gets.</summary>
public sealed record HopTarget(int Hop, string Address, string Device, IReadOnlyList<string> Tensors);

/// <summary>
/// What one Deploy installs on one agent: its hops of <paramref name="Version"/>, where last hops deliver
/// (<paramref name="ReplyTo"/>), and the peers the coordinator configured (the only addresses the agent sends its token to).
/// </summary>
public sealed record DeploymentOrder(long Version, IReadOnlyList<HopDeployment> Hops, string ReplyTo, IReadOnlyList<string> Peers);

/// <summary>One request's tensors for one hop, as the coordinator or the previous agent sends them.</summary>
public sealed record HopRequest(
    string RequestId,
    int Attempt,
    long Version,
    int Hop,
    string ReplyTo,
    DateTimeOffset Deadline,
    IReadOnlyList<WireTensor> Tensors,
    IReadOnlyList<HopTiming> Timings,
    string? FromDevice);

/// <summary>A last hop's answer (or the error of a hop on the way) for one attempt.</summary>
public sealed record Delivery(string RequestId, IReadOnlyList<WireTensor> Outputs, string? Error, string? FailedDevice, IReadOnlyList<HopTiming> Timings);

/// <summary>One reading of a device as the agent's Metrics stream reports it.</summary>
public sealed record DeviceSample(
    string Name,
    DateTimeOffset Time,
    double CpuUtilisation,
    IReadOnlyList<double> CpuPerCore,
    long MemoryAvailableBytes,
    long MemoryLimitBytes,
    double ProcessCpuUtilisation,
    long ProcessRssBytes,
    long NetBytesIn,
    long NetBytesOut,
    double TemperatureC,
    double PowerW,
    double EnergyJ,
    bool PowerEstimated,
    IReadOnlyList<LinkSample> Links,
    int Queued,
    long Executed)
{
    /// <summary>The ONNX Runtime execution provider the agent's partitions really run on (<c>cpu</c> after a fallback); null = not reported.</summary>
    public string? Provider { get; init; }
}

/// <summary>Measured link to a peer: round trip and (when known) bandwidth.</summary>
public sealed record LinkSample(string Peer, double RttMs, double BandwidthBytesPerSecond);

/// <summary>What a health probe learned: whether the agent serves, and its free memory.</summary>
public sealed record ProbeResult(bool Serving, long MemoryAvailableBytes);

/// <summary>One plan switch: versions, how long deploy + warm + switch took, and why.</summary>
public sealed record PlanSwitch(long FromVersion, long ToVersion, TimeSpan Duration, string Reason, DateTimeOffset Time);

/// <summary>An agent as the coordinator sees it.</summary>
public sealed record AgentState(string Name, string Address, bool Alive);

/// <summary>The coordinator's state for Status.</summary>
public sealed record CoordinatorStatus(
    Plan? Plan,
    FeatureMapCompression Compression,
    IReadOnlyList<AgentState> Agents,
    long Completed,
    long Failed,
    long Retried,
    int InFlight,
    IReadOnlyList<PlanSwitch> Switches,
    string? Unavailable,
    string Model,
    IReadOnlyList<ModelInputSpec> Inputs,
    IReadOnlyList<string> OutputNames)
{
    /// <summary>The adaptation loop's state; null when the plan source does not adapt.</summary>
    public AdaptationStatus? Adaptation { get; init; }

    /// <summary>The latest metrics of each agent (empty until the first metrics tick).</summary>
    public IReadOnlyList<DeviceView> Devices { get; init; } = [];

    /// <summary>Why the cluster serves in a degraded way (e.g. the source device is down and requests enter elsewhere); null when it does not.</summary>
    public string? Degraded { get; init; }

    /// <summary>The device where requests enter (the camera).</summary>
    public string? SourceDevice { get; init; }

    /// <summary>The requests answered in the last minute (at most a few thousand), oldest first: the rolling latency window.</summary>
    public IReadOnlyList<ServedSample> RecentServed { get; init; } = [];

    /// <summary>The served model's layers and cut sizes (null when the coordinator does not know them).</summary>
    public ModelLayers? Layers { get; init; }

    /// <summary>The links as configured (a testbed file), which planners use until traffic has measured them; empty when none were given.</summary>
    public IReadOnlyList<LinkSpec> ConfiguredLinks { get; init; } = [];
}

/// <summary>
/// One request the coordinator answered: its sequence number, when it ended (the coordinator's clock), its
/// end-to-end latency, its energy estimated from the devices' power models (NaN when unknown) and the plan version that served it.
/// </summary>
public sealed record ServedSample(long Sequence, DateTimeOffset Time, double LatencyMs, double EstimatedEnergyJ, long PlanVersion);

/// <summary>
/// The served model's layers in execution order (node labels and operator types) and, where the model was
/// profiled, the bytes that cross each cut (<c>CutBytes[i]</c> between node i and i+1).
/// </summary>
public sealed record ModelLayers(IReadOnlyList<string> Names, IReadOnlyList<string> Ops, IReadOnlyList<long>? CutBytes);

/// <summary>One agent's latest metrics as the coordinator received them; power may be estimated (see <paramref name="PowerEstimated"/>).</summary>
public sealed record DeviceView(
    string Name,
    bool Alive,
    DateTimeOffset? Time,
    double CpuUtilisation,
    double CpuAvailability,
    long MemoryAvailableBytes,
    double PowerW,
    bool PowerEstimated,
    int Queued,
    long Executed,
    IReadOnlyList<LinkView> Links)
{
    /// <summary>The device's temperature (NaN where it has no sensor, or before the first sample).</summary>
    public double TemperatureC { get; init; } = double.NaN;

    /// <summary>The memory limit the device runs under (cgroup or physical); 0 before the first sample.</summary>
    public long MemoryLimitBytes { get; init; }

    /// <summary>The ONNX Runtime execution provider the agent runs on; null where the agent does not report one (CPU).</summary>
    public string? Provider { get; init; }
}

/// <summary>A link from the device to <paramref name="Peer"/> (a device name): RTT and passively measured bandwidth (0 = not yet).</summary>
public sealed record LinkView(string Peer, double RttMs, double BytesPerSecond);

/// <summary>
/// One adaptation decision, for Status, logs and the live view. <paramref name="Plan"/> is the
/// planner's candidate (the plan in force when <paramref name="Switched"/>); values are in the objective's unit.
/// </summary>
public sealed record DecisionRecord(
    DateTimeOffset Time,
    bool Switched,
    string Reason,
    string Detail,
    string? OldPlan,
    string Plan,
    double OldValue,
    double NewValue,
    double PredictedGain,
    double DecisionMs);

/// <summary>The adaptation loop's counters: decisions by reason, recent decisions, decision times.</summary>
public sealed record AdaptationStatus(
    string Planner,
    string Objective,
    bool CostCorrection,
    IReadOnlyDictionary<string, long> Counts,
    long Decisions,
    long Switches,
    IReadOnlyList<DecisionRecord> Recent,
    double LastDecisionMs,
    double MeanDecisionMs,
    long ObservedRequests);

/// <summary>One answered inference.</summary>
public sealed record InferResult(IReadOnlyList<WireTensor> Outputs, long PlanVersion, int Attempts)
{
    /// <summary>End-to-end latency of the successful attempt, as the coordinator saw it.</summary>
    public double LatencyMs { get; init; }

    /// <summary>The plan that served it (version <see cref="PlanVersion"/>).</summary>
    public Plan? Plan { get; init; }

    /// <summary>What each hop of the route reported: compute time and the transfer that brought its input.</summary>
    public IReadOnlyList<HopTiming> Hops { get; init; } = [];

    /// <summary>Energy of this inference estimated from the devices' power models (NaN without an adaptive plan source).</summary>
    public double EstimatedEnergyJ { get; init; } = double.NaN;
}

/// <summary>
/// An agent that joined on its own (<c>agent --join</c>): its name, where others reach it, the execution
/// provider it runs on. Sent again as its heartbeat; <paramref name="Leaving"/> says it is going.
/// </summary>
public sealed record JoinNotice(string Name, string Address, string? Provider, bool Leaving = false);
