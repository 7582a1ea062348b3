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
}

/// <summary>Which strategies count as adaptive, and their names as written in files.</summary>
public static class Strategies
{
    public static IReadOnlyList<Strategy> Adaptive { get; } = [Strategy.Greedy, Strategy.Optimal, Strategy.Rl];

    public static bool IsAdaptive(this Strategy strategy) => Adaptive.Contains(strategy);

    /// <summary>The lower-case name used in results.json, results.csv and on the command line.</summary>
    public static string Name(this Strategy strategy) => strategy.ToString().ToLowerInvariant();

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
    IReadOnlyList<LatencySample> Latencies);

/// <summary>Something the scenario did at a point in time (bandwidth drop, load spike, device lost).</summary>
public sealed record ScenarioEvent(double TSeconds, string Description);

/// <summary>Which figure picks the best adaptive strategy of a model.</summary>
public enum RankBy
{
    P50Latency,
    EnergyPerInference,
}

/// <summary>The thresholds the best adaptive strategy must meet (issue 6's "done when").</summary>
public sealed record VerdictCriteria(
    double MaxP50VsStatic = 0.7,
    double MaxP50VsOracle = 1.15,
    double MaxEnergyVsStatic = 0.8,
    int MaxFailed = 0,
    RankBy RankBy = RankBy.P50Latency)
{
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
