using CsCheck;

namespace EdgeSplit.Reports.Tests;

public sealed class LatencySummaryTests
{
    [Fact]
    public void Percentiles_of_one_to_a_hundred_are_their_nearest_ranks()
    {
        var summary = LatencySummary.Of(Enumerable.Range(1, 100).Select(i => (double)i).Reverse());
        Assert.Equal(new LatencySummary(50, 95, 99), summary);
    }

    [Fact]
    public void Each_percentile_is_a_sample_with_at_least_that_fraction_at_or_below_it()
    {
        Gen.Double[0, 1000].Array[1, 200].Sample(latencies =>
        {
            var s = LatencySummary.Of(latencies);
            foreach (var (value, q) in new[] { (s.P50Ms, 0.5), (s.P95Ms, 0.95), (s.P99Ms, 0.99) })
            {
                Assert.Contains(value, latencies);
                Assert.True(latencies.Count(l => l <= value) >= q * latencies.Length);
                Assert.True(latencies.Count(l => l < value) < q * latencies.Length);
            }
            Assert.True(s.P50Ms <= s.P95Ms && s.P95Ms <= s.P99Ms);
        });
    }

    [Fact]
    public void No_latencies_have_no_percentiles()
    {
        Assert.Throws<ArgumentException>(() => LatencySummary.Of([]));
    }
}
