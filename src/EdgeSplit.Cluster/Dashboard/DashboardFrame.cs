namespace EdgeSplit.Cluster.Dashboard;

/// <summary>
/// What the page receives a few times a second (one Server-Sent Event, JSON in camelCase). Unknown figures are
/// null rather than NaN. <see cref="Layout"/> (layers, cut sizes, configured links) comes only in the first frame
/// of each coordinator, as its <see cref="Generation"/> changes.
/// </summary>
public sealed record DashboardFrame(
    long Generation,
    double TimeMs,
    string? Label,
    string? Model,
    DashboardLayout? Layout,
    DashboardPlan? Plan,
    string? Unavailable,
    string? Degraded,
    IReadOnlyList<DashboardDevice> Devices,
    IReadOnlyList<DashboardLink> Links,
    DashboardRequests Requests,
    DashboardWindow Window,
    IReadOnlyList<DashboardSwitch> Switches,
    DashboardAdaptation? Adaptation);

/// <summary>The served model's layers (labels and operators), the bytes crossing each cut where profiled, and the configured links.</summary>
public sealed record DashboardLayout(IReadOnlyList<string> Layers, IReadOnlyList<string> Ops, IReadOnlyList<long>? CutBytes, IReadOnlyList<DashboardLink> ConfiguredLinks);

/// <summary>The plan in force: its version, feature-map compression and stages (inclusive node ranges).</summary>
public sealed record DashboardPlan(long Version, string Compression, IReadOnlyList<DashboardStage> Stages);

public sealed record DashboardStage(string Device, int FirstNode, int LastNode);

/// <summary>
/// One device: state, CPU busy and free for EdgeSplit (0..1), memory, power (<see cref="PowerEstimated"/>: from the
/// profile's power model, not a sensor), temperature, the execution provider ("cpu" where the agent reports none).
/// </summary>
public sealed record DashboardDevice(
    string Name,
    string Address,
    bool Alive,
    bool Source,
    double? Cpu,
    double? CpuFree,
    long MemoryAvailableBytes,
    long MemoryLimitBytes,
    double? PowerW,
    bool PowerEstimated,
    double? TemperatureC,
    string Provider,
    int Queued,
    long Executed,
    double? SampleAgeS);

/// <summary>A link from <see cref="From"/> to <see cref="To"/>: bandwidth in bytes per second and RTT (null = not measured yet).</summary>
public sealed record DashboardLink(string From, string To, double? BytesPerSecond, double? RttMs);

/// <summary>Request counters since the coordinator started.</summary>
public sealed record DashboardRequests(long Completed, long Failed, long Retried, int InFlight);

/// <summary>
/// The rolling window over the last <see cref="Seconds"/>: latency p50 and p95, answered requests per second,
/// energy per frame estimated from power models; <see cref="LastSequence"/> grows with every answered request.
/// </summary>
public sealed record DashboardWindow(double Seconds, int Samples, double? P50Ms, double? P95Ms, double PerSecond, double? EnergyPerFrameJ, long LastSequence);

/// <summary>One plan switch: versions, how long deploy + warm + switch took, why, and when (Unix ms).</summary>
public sealed record DashboardSwitch(long FromVersion, long ToVersion, double DurationMs, string Reason, double TimeMs);

/// <summary>The adaptation loop: planner, objective, counters, and the decisions the page has not seen yet, oldest first.</summary>
public sealed record DashboardAdaptation(
    string Planner,
    string Objective,
    bool CostCorrection,
    long Decisions,
    long Switches,
    double LastDecisionMs,
    double MeanDecisionMs,
    IReadOnlyList<DashboardDecision> Recent);

/// <summary>One decision: its number in the log, when (Unix ms), why, whether it switched, the plans and the objective's values, the predicted gain.</summary>
public sealed record DashboardDecision(
    long Sequence,
    double TimeMs,
    string Reason,
    bool Switched,
    string Detail,
    string? OldPlan,
    string Plan,
    double? OldValue,
    double? NewValue,
    double? PredictedGain,
    double DecisionMs);
