using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>An agent the coordinator may use: its device name and <c>host:port</c>.</summary>
public sealed record AgentEndpoint(string Name, string Address);

/// <summary>One model input as the coordinator checks requests against it (null dims are symbolic, a null shape unknown).</summary>
public sealed record ModelInputSpec(string Name, TensorElementType ElementType, IReadOnlyList<long?>? Shape);

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
    /// <summary>The planners' view of the model (see <see cref="AdaptivePlanning.MeasureProfile"/>); required by adaptive serving.</summary>
    public SegmentProfile? Profile { get; init; }
}

/// <summary>What a planner sees when the coordinator asks for a plan.</summary>
public sealed record PlanRequest(
    long Version,
    int NodeCount,
    string SourceDevice,
    IReadOnlyList<string> LiveDevices,
    IReadOnlyDictionary<string, long> MemoryAvailableBytes,
    IReadOnlyList<double> NodeCostsMs,
    Plan? Current,
    string Reason);

/// <summary>
/// The seam planners plug into: the coordinator asks for a plan at start, when a device dies and
/// whenever a planner wants to re-decide. Throw <see cref="NoPlanFitsException"/> (or the Planning
/// project's <see cref="NoFeasiblePlanException"/>) when none fits.
/// </summary>
public interface IPlanSource
{
    Plan Propose(PlanRequest request);
}

/// <summary>No placement of the model fits the devices that are left; Infer then fails fast.</summary>
public sealed class NoPlanFitsException(string message) : Exception(message);

/// <summary>How the coordinator serves.</summary>
public sealed record CoordinatorOptions
{
    public string Listen { get; init; } = "127.0.0.1:0";

    /// <summary>Address agents deliver results to; null = the bound address.</summary>
    public string? AdvertiseAddress { get; init; }

    /// <summary>
    /// Where one agent reaches another, by (from, to) device, when it is not the address the
    /// coordinator uses: on the namespace testbed each pair talks over its own shaped link, at the
    /// peer's address on that link. Pairs not listed use the agent's address.
    /// </summary>
    public IReadOnlyDictionary<(string From, string To), string>? PeerAddresses { get; init; }

    public string? Token { get; init; }

    /// <summary>Device where requests enter (the camera); null = the first agent.</summary>
    public string? SourceDevice { get; init; }

    /// <summary>One attempt's deadline, end to end; past it the request is retried.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempts per request before the client sees an error.</summary>
    public int MaxAttempts { get; init; } = 4;

    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Period of the agents' Metrics streams the coordinator follows (for Status and top); null = only when adapting.</summary>
    public TimeSpan? MetricsInterval { get; init; }

    /// <summary>Optional HOST:PORT of a plain HTTP/1 endpoint serving Prometheus text at /metrics.</summary>
    public string? MetricsListen { get; init; }

    /// <summary>Feature-map compression of the initial plan.</summary>
    public FeatureMapCompression Compression { get; init; } = FeatureMapCompression.None;

    public int MaxMessageBytes { get; init; } = Transport.WireLimits.DefaultMaxMessageBytes;

    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }
}

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
}

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
    IReadOnlyList<LinkView> Links);

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
/// One hop of a served request: its compute time, and the bytes and time of the transfer that
/// brought its input (sender's send timestamp to receipt; assumes clocks in sync, exact on one host).
/// </summary>
public sealed record HopTiming(int Hop, string Device, double ComputeMs, long BytesIn, double TransferInMs, string? FromDevice);
