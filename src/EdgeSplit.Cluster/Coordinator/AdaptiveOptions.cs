using EdgeSplit.Planning;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// How the coordinator adapts: the planner by name (static | greedy | optimal | rl | oracle), the
/// objective, per-device specs the testbed knows (relative speed, memory budget cap, power model;
/// their CPU availability is ignored because it is measured live), the cost model's online
/// correction, the rl policy file, and the policy's hysteresis/dwell/switch cost.
/// </summary>
public sealed record AdaptiveOptions(
    string Planner,
    Objective Objective,
    IReadOnlyDictionary<string, DeviceSpec>? Devices = null,
    bool CostCorrection = true,
    string? RlPolicyFile = null,
    AdaptationOptions? Adaptation = null)
{
    /// <summary>Period of the agents' Metrics streams; each tick is one adaptation update.</summary>
    public TimeSpan MetricsInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Configured links, used until traffic or probes have measured a link.</summary>
    public IReadOnlyList<LinkSpec>? Links { get; init; }

    /// <summary>Bandwidth assumed for a link nothing is known about (100 Mbit/s).</summary>
    public double DefaultBytesPerSecond { get; init; } = 12.5e6;

    /// <summary>RTT assumed for a link nothing is known about.</summary>
    public double DefaultRttMs { get; init; } = 1;

    /// <summary>Oracle only: the recorded true conditions per time window.</summary>
    public IReadOnlyList<ConditionWindow>? OracleTruth { get; init; }

    /// <summary>Time since the run started, as states carry it (the oracle's windows); default: since the plan source was created.</summary>
    public Func<TimeSpan>? Clock { get; init; }

    public RlOptions? Rl { get; init; }

    /// <summary>rl only: requests served with one rl choice before it chooses again (an exploration gets one, and the whole window only if that one came back competitive).</summary>
    public int RlWindowRequests { get; init; } = 5;

    /// <summary>Lower bound of live CPU availability, so a saturated device still has a finite cost.</summary>
    public double MinCpuAvailability { get; init; } = 0.05;

    /// <summary>Weight of the newest sample in the EWMA of each device's CPU availability (1 = no smoothing).</summary>
    public double CpuSmoothing { get; init; } = 0.5;

    /// <summary>
    /// With a tiling profile, tile groups are weighed only while at most this many devices are live: the
    /// optimal planner's tile entries grow as 2^devices (measured 1-2 ms at 2 devices, 10-19 at 3, 121-130 at 5
    /// on this 2-core host), too slow for a tick every metrics interval beyond 4. Above it, plans are layer-wise.
    /// </summary>
    public int MaxTiledDevices { get; init; } = 4;

    public AdaptationOptions EffectiveAdaptation => Adaptation ?? AdaptationOptions.Default;
}
