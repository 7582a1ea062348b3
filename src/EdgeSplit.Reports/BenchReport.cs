namespace EdgeSplit.Reports;

/// <summary>How requests were placed: the baselines, the adaptive planners and the hindsight oracle.</summary>
public enum Strategy
{
    /// <summary>The whole model on the best single device.</summary>
    Single,
    /// <summary>One plan chosen up front and never changed.</summary>
    Static,
    Greedy,
    Optimal,
    Rl,
    /// <summary>Hindsight best plan; for evaluation only.</summary>
    Oracle,
    /// <summary>Optimal with tile groups allowed at the start of the model (beside layer-wise plans).</summary>
    Tiles,
    /// <summary>The proposal's pathway 2: static's split run over PyTorch RPC (torchvision, TensorPipe) on the same devices; written "pytorch-rpc".</summary>
    PytorchRpc,
}

/// <summary>Which strategies count as adaptive, and their names as written in files.</summary>
public static class Strategies
{
    public static IReadOnlyList<Strategy> Adaptive { get; } = [Strategy.Greedy, Strategy.Optimal, Strategy.Rl];

    public static bool IsAdaptive(this Strategy strategy) => Adaptive.Contains(strategy);

    /// <summary>The lower-case name used in results.json, results.csv and on the command line.</summary>
    public static string Name(this Strategy strategy) => strategy == Strategy.PytorchRpc ? "pytorch-rpc" : strategy.ToString().ToLowerInvariant();

    /// <summary>Parses a name such as "rl" or "optimal"; null when unknown.</summary>
    public static Strategy? Parse(string name)
    {
        foreach (var strategy in Enum.GetValues<Strategy>())
        {
            if (string.Equals(strategy.Name(), name.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return strategy;
            }
        }
        return null;
    }
}

/// <summary>One request's end-to-end latency and when it was sent, seconds since the run started.</summary>
public sealed record LatencySample(double TSeconds, double LatencyMs);

/// <summary>Mean CPU and memory use of one device during one run.</summary>
public sealed record DeviceUsage(string Device, double CpuPercent, double MemoryMb);

/// <summary>
/// What one strategy achieved on one model over one scenario run. DecisionMs is the planner's mean time per
/// decision, SwitchMs the mean time from a new plan to its first served request; EnergyEstimated is true when
/// energy comes from a power model, not a meter. Requests counts every request sent, failed ones included;
/// Latencies holds the served ones. <see cref="LatencySummary.Of"/> computes the percentiles from them.
/// </summary>
public sealed record StrategyResult(
    string Model,
    Strategy Strategy,
    double P50Ms,
    double P95Ms,
    double P99Ms,
    double ThroughputPerS,
    double EnergyPerInferenceJ,
    bool EnergyEstimated,
    int Failed,
    int Repartitions,
    double DecisionMs,
    double SwitchMs,
    int Requests,
    IReadOnlyList<DeviceUsage> Devices,
    IReadOnlyList<LatencySample> Latencies)
{
    /// <summary>The camera workload's figures, when the run was open loop (null: a closed-loop client).</summary>
    public FrameFigures? Frames { get; init; }

    /// <summary>Why requests failed, each reason with its count (empty when none did).</summary>
    public IReadOnlyList<(string Reason, int Count)> FailureReasons { get; init; } = [];
}

/// <summary>
/// An open-loop camera's frames in one run: frames captured at <see cref="Fps"/>, each due <see cref="DeadlineMs"/>
/// after its capture. A dropped frame found the pipeline full (<see cref="MaxInFlight"/> frames in it); a late one
/// was answered after its deadline; a failed one got an error or no answer at all. Misses are dropped + late +
/// failed frames as a share of those captured; achieved fps counts answered frames per second of run.
/// </summary>
public sealed record FrameFigures(double Fps, double DeadlineMs, int MaxInFlight, int Captured, int Late, int Dropped, int Failed, double MissPercent, double AchievedFps);

/// <summary>Something the scenario did at a point in time (bandwidth drop, load spike, device lost).</summary>
public sealed record ScenarioEvent(double TSeconds, string Description);

/// <summary>Which figure picks the best adaptive strategy of a model.</summary>
public enum RankBy
{
    P50Latency,
    EnergyPerInference,
}

/// <summary>
/// The thresholds the best adaptive strategy must meet (issues 6 and 9's "done when"): p50, p95, deadline misses
/// and energy against static, p50 against the oracle, no failed request; and rl's p95 no worse than static's.
/// </summary>
public sealed record VerdictCriteria(
    double MaxP50VsStatic = 0.7,
    double MaxP50VsOracle = 1.15,
    double MaxEnergyVsStatic = 0.8,
    int MaxFailed = 0,
    RankBy RankBy = RankBy.P50Latency)
{
    /// <summary>The best adaptive strategy's p95 against static's.</summary>
    public double MaxP95VsStatic { get; init; } = 0.6;

    /// <summary>The best adaptive strategy's deadline misses against static's (open-loop runs only).</summary>
    public double MaxMissesVsStatic { get; init; } = 0.5;

    /// <summary>rl's p95 against static's.</summary>
    public double MaxRlP95VsStatic { get; init; } = 1.0;

    public static VerdictCriteria Default { get; } = new();
}

/// <summary>
/// Everything one `edgesplit bench` run produced, ready to be written as a report. Emulated is true when devices
/// are emulated on one host (namespaces, tc, cgroups); Host describes the machine, e.g. "2 cores, shared with
/// other jobs"; ClosingNote says why a figure falls short, or anything else a reader must know.
/// </summary>
public sealed record BenchReport(
    string Title,
    string Testbed,
    string Scenario,
    string Objective,
    bool Emulated,
    string Host,
    IReadOnlyList<StrategyResult> Results,
    IReadOnlyList<ScenarioEvent> Events,
    VerdictCriteria Criteria,
    string? ClosingNote = null)
{
    /// <summary>Where the run's live dashboard was while it ran (null: none).</summary>
    public string? LiveDashboardUrl { get; init; }
}
