namespace EdgeSplit.Reports;

/// <summary>
/// p50/p95/p99 of a set of latencies by the nearest-rank method, so every strategy's percentiles are
/// computed the same way and each one is a latency a request really had.
/// </summary>
public sealed record LatencySummary(double P50Ms, double P95Ms, double P99Ms)
{
    public static LatencySummary Of(IEnumerable<double> latenciesMs)
    {
        ArgumentNullException.ThrowIfNull(latenciesMs);
        var sorted = latenciesMs.ToArray();
        if (sorted.Length == 0)
        {
            throw new ArgumentException("no latencies to summarise: a run without a served request has no percentiles", nameof(latenciesMs));
        }
        if (sorted.Any(l => !double.IsFinite(l)))
        {
            throw new ArgumentException("latencies must be finite", nameof(latenciesMs));
        }
        Array.Sort(sorted);
        return new LatencySummary(NearestRank(sorted, 0.50), NearestRank(sorted, 0.95), NearestRank(sorted, 0.99));
    }

    /// <summary>The smallest value with at least a fraction q of all values at or below it.</summary>
    public static double NearestRank(IReadOnlyList<double> sorted, double q) => Runtime.LatencyStats.Percentile(sorted, q * 100);
}
