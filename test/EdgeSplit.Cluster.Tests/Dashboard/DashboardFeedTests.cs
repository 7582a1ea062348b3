using System.Net.Http.Json;
using EdgeSplit.Cluster.Dashboard;
using EdgeSplit.Tests;

namespace EdgeSplit.Cluster.Tests.Dashboard;

/// <summary>
/// The seam demo and bench use: one <see cref="DashboardServer"/> for a whole run, showing whichever coordinator
/// follows its <see cref="DashboardFeed"/> now (real coordinators and agents on loopback, the page's JSON read over HTTP).
/// </summary>
public sealed class DashboardFeedTests
{
    [Fact]
    public async Task A_dashboard_server_shows_each_coordinator_that_follows_its_feed_in_turn_and_says_when_none_runs()
    {
        var feed = new DashboardFeed();
        await using var server = await DashboardServer.StartAsync("127.0.0.1:0", token: null, feed);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        async Task<DashboardFrame?> FrameAsync() => await http.GetFromJsonAsync<DashboardFrame>($"{server.Url}api/frame", System.Text.Json.JsonSerializerOptions.Web);

        var idle = (await FrameAsync())!;
        Assert.Null(idle.Model);
        Assert.Equal("no coordinator is running now", idle.Unavailable);

        long first;
        await using (var chain = await TestCluster.StartAsync(SmallModels.Chain(12, 4, 8), 3, cuts: [3, 7], configure: o => o with { Dashboard = feed }))
        {
            feed.Label = "static (1 of 2), running";
            var shown = (await FrameAsync())!;
            first = shown.Generation;
            Assert.Equal("static (1 of 2), running", shown.Label);
            Assert.Equal(["dev0", "dev1", "dev2"], shown.Devices.Select(d => d.Name));
            Assert.Equal(12, shown.Layout!.Layers.Count);
            Assert.Equal([3, 7, 11], shown.Plan!.Stages.Select(s => s.LastNode));

            // The next strategy's coordinator starts before this one is torn down: the page follows the newer one.
            await using var residual = await TestCluster.StartAsync(SmallModels.Residual(), 2, cuts: [2], configure: o => o with { Dashboard = feed });
            var next = (await FrameAsync())!;
            Assert.True(next.Generation > first);
            Assert.Equal(["dev0", "dev1"], next.Devices.Select(d => d.Name));
            Assert.Equal(7, next.Layout!.Layers.Count);
        }

        // Both are gone: the page says so instead of showing a stopped coordinator.
        var after = (await FrameAsync())!;
        Assert.Null(after.Model);
        Assert.Empty(after.Devices);
    }
}
