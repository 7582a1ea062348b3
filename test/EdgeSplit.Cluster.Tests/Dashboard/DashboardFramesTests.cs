using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Dashboard;

namespace EdgeSplit.Cluster.Tests.Dashboard;

/// <summary>The rolling figures the page draws, computed from the coordinator's latency window.</summary>
public sealed class DashboardFramesTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_rolling_window_keeps_the_last_ten_seconds_and_gives_nearest_rank_percentiles_rate_and_energy()
    {
        // 40 s of history at 2 requests per second; the last 10 s hold latencies 1..20 ms and 0.5 J each.
        var served = new List<ServedSample>();
        for (var i = 0; i < 80; i++)
        {
            var recent = i >= 60;
            served.Add(new ServedSample(i + 1, Now.AddSeconds(-40 + (i * 0.5) + 0.25), recent ? i - 59 : 1000, recent ? 0.5 : 9, 3));
        }

        var window = DashboardFrames.Rolling(served, Now);

        Assert.Equal(20, window.Samples);
        Assert.Equal(10, window.P50Ms);
        Assert.Equal(19, window.P95Ms);
        Assert.Equal(2, window.PerSecond, 6);
        Assert.Equal(0.5, window.EnergyPerFrameJ);
        Assert.Equal(80, window.LastSequence);
    }

    [Fact]
    public void A_coordinator_answering_for_less_than_the_window_is_not_reported_slower_than_it_is()
    {
        var served = Enumerable.Range(0, 8).Select(i => new ServedSample(i + 1, Now.AddSeconds(-2 + (i * 0.25)), 5, double.NaN, 1)).ToList();

        var window = DashboardFrames.Rolling(served, Now);

        // 8 requests over the 2 s since the first, not over 10 s; energy unknown stays unknown.
        Assert.Equal(4, window.PerSecond, 6);
        Assert.Null(window.EnergyPerFrameJ);
    }

    [Fact]
    public void Nothing_answered_lately_gives_no_percentiles_and_no_rate()
    {
        var window = DashboardFrames.Rolling([new ServedSample(7, Now.AddSeconds(-30), 12, 1, 1)], Now);

        Assert.Equal((0, null, null, 0.0, 7L), (window.Samples, window.P50Ms, window.P95Ms, window.PerSecond, window.LastSequence));
    }
}
