namespace EdgeSplit.Runtime;

/// <summary>Percentiles of a set of latencies, by the nearest-rank method (the one implementation every report and command uses).</summary>
public sealed record LatencyStats(int Count, double P50Ms, double P95Ms, double P99Ms, double MeanMs)
{
    /// <summary>The slowest latency.</summary>
    public double MaxMs { get; init; } = double.NaN;

    public static LatencyStats From(IReadOnlyCollection<double> latenciesMs)
    {
        if (latenciesMs.Count == 0)
        {
            return new LatencyStats(0, double.NaN, double.NaN, double.NaN, double.NaN);
        }
        var sorted = latenciesMs.Order().ToArray();
        return new LatencyStats(sorted.Length, Percentile(sorted, 50), Percentile(sorted, 95), Percentile(sorted, 99), sorted.Average()) { MaxMs = sorted[^1] };
    }

    /// <summary>Nearest-rank percentile of an ascending list: the smallest value with at least <paramref name="percent"/> % of all values at or below it.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double percent)
    {
        var rank = (int)Math.Ceiling(percent / 100.0 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }
}
