namespace EdgeSplit.Reports;

/// <summary>
/// How rl learned in one run, against the oracle in the same scenario. The scenario's events cut the run into
/// windows of steady conditions. Regret: for each frame rl answered, its latency minus the oracle's median
/// latency in the same window, averaged over rl's frames (ms per frame; negative where rl beat the oracle's
/// median). Convergence: in each window, the frames rl needed from the window's start until the median of its
/// last <see cref="RollingFrames"/> answered frames first came within <see cref="Tolerance"/>x of the oracle's
/// median there; the median over windows is reported, with the windows where it never did.
/// </summary>
public sealed record RlLearning(double MeanRegretMs, double OracleMedianMs, double? MedianFramesToConverge, int Windows, int NeverConverged)
{
    public const int RollingFrames = 5;

    public const double Tolerance = 1.15;

    /// <summary>One line for reports and consoles.</summary>
    public string Describe() =>
        $"rl's regret against the oracle: {Fmt.Num(MeanRegretMs)} ms per frame (the oracle's median {Fmt.Ms(OracleMedianMs)}); frames to converge " +
        $"(rolling median of {RollingFrames} within {Fmt.X(Tolerance)} the oracle's, per window of steady conditions): " +
        (MedianFramesToConverge is { } n ? $"median {Fmt.Num(n)} over {Windows - NeverConverged} of {Windows} windows" : $"none of {Windows} windows") +
        (NeverConverged > 0 ? $", {NeverConverged} window(s) never" : "");

    /// <summary>The figures of rl against the oracle on one model; null when either is missing or served nothing.</summary>
    public static RlLearning? Of(StrategyResult? rl, StrategyResult? oracle, IReadOnlyList<ScenarioEvent> events)
    {
        if (rl is null || oracle is null || rl.Latencies.Count == 0 || oracle.Latencies.Count == 0)
        {
            return null;
        }
        var cuts = events.Select(e => e.TSeconds).Where(t => t > 0).Append(0).Append(double.PositiveInfinity).Distinct().Order().ToList();
        int WindowOf(double t) => Math.Max(0, cuts.FindLastIndex(c => c <= t));
        var oracleMedian = oracle.Latencies.GroupBy(s => WindowOf(s.TSeconds)).ToDictionary(g => g.Key, g => Median(g.Select(s => s.LatencyMs)));
        var overall = Median(oracle.Latencies.Select(s => s.LatencyMs));
        var regrets = rl.Latencies.Select(s => s.LatencyMs - oracleMedian.GetValueOrDefault(WindowOf(s.TSeconds), overall)).ToList();

        var converged = new List<double>();
        var windows = 0;
        var never = 0;
        foreach (var window in rl.Latencies.OrderBy(s => s.TSeconds).GroupBy(s => WindowOf(s.TSeconds)))
        {
            if (!oracleMedian.TryGetValue(window.Key, out var reference)) continue;
            var frames = window.Select(s => s.LatencyMs).ToList();
            if (frames.Count < RollingFrames) continue;
            windows++;
            var at = Enumerable.Range(RollingFrames, frames.Count - RollingFrames + 1)
                .FirstOrDefault(n => Median(frames.Skip(n - RollingFrames).Take(RollingFrames)) <= reference * Tolerance, -1);
            if (at < 0) never++;
            else converged.Add(at);
        }
        return new RlLearning(regrets.Average(), overall, converged.Count > 0 ? Median(converged) : null, windows, never);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return LatencySummary.NearestRank(sorted, 0.5);
    }
}
