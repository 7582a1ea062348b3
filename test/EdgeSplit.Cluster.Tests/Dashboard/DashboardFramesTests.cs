using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Dashboard;
using EdgeSplit.Runtime.Codec;

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
    public void A_page_gets_the_layout_once_per_coordinator_and_each_decision_once()
    {
        var recent = Enumerable.Range(1, 64).Select(i => new DecisionRecord(Now.AddSeconds(i - 64), i % 8 == 0, i % 8 == 0 ? "Worthwhile" : "ConditionsUnchanged", "", null, $"p{i}", 2, 1, 1, 0.1)).ToList();
        var status = new CoordinatorStatus(null, FeatureMapCompression.None, [], 0, 0, 0, 0, [], null, "m", [], [])
        {
            // 100 decisions so far; the coordinator keeps the latest 64, numbered 37..100.
            Adaptation = new AdaptationStatus("optimal", "latency", true, new Dictionary<string, long>(), 100, 8, recent, 0.1, 0.1, 0),
            Layers = new ModelLayers(["a", "b"], ["Conv", "Relu"], [1000]),
        };

        var first = DashboardFrames.Build(status, Now, null, 3, DashboardFrames.Cursor.None);
        var again = DashboardFrames.Build(status, Now, null, 3, DashboardFrames.Cursor.None.After(first) with { Decisions = 98 });
        var other = DashboardFrames.Build(status, Now, null, 4, DashboardFrames.Cursor.None.After(first));

        Assert.Equal(["a", "b"], first.Layout!.Layers);
        Assert.Equal(Enumerable.Range(37, 64).Select(i => (long)i), first.Adaptation!.Recent.Select(d => d.Sequence));
        Assert.Equal("p1", first.Adaptation.Recent[0].Plan);
        Assert.Null(again.Layout);
        Assert.Equal([(99L, "p63"), (100L, "p64")], again.Adaptation!.Recent.Select(d => (d.Sequence, d.Plan)));
        // Another coordinator: its layout and its whole log again.
        Assert.NotNull(other.Layout);
        Assert.Equal(64, other.Adaptation!.Recent.Count);
    }

    [Fact]
    public void Nothing_answered_lately_gives_no_percentiles_and_no_rate()
    {
        var window = DashboardFrames.Rolling([new ServedSample(7, Now.AddSeconds(-30), 12, 1, 1)], Now);

        Assert.Equal((0, null, null, 0.0, 7L), (window.Samples, window.P50Ms, window.P95Ms, window.PerSecond, window.LastSequence));
    }
}
