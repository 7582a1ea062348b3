using System.Net;
using EdgeSplit.Tests;
using PuppeteerSharp;

namespace EdgeSplit.Cluster.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser (Debian's headless Chromium through PuppeteerSharp) against a real coordinator
/// with three real agents on loopback, all bound to port 0. Skips, saying how to install it, where Chromium is missing.
/// </summary>
public sealed class DashboardBrowserTests
{
    private const string Token = "browser-s3cret";
    private const int Nodes = 12;

    [SkippableFact]
    public async Task The_page_refuses_without_the_token_then_lists_the_devices_follows_a_plan_switch_and_charts_requests()
    {
        Skip.IfNot(SystemChromium.Installed, SystemChromium.InstallHint);
        await using var cluster = await DashboardAccessTests.StartAsync(Token);
        var coordinator = cluster.Coordinator!;
        await using var browser = await SystemChromium.LaunchAsync();
        var page = await browser.NewPageAsync();
        page.DefaultTimeout = 30_000;

        // Without the token: the page is a login prompt that shows nothing of the cluster, and its stream is refused too.
        var refused = await page.GoToAsync($"http://{coordinator.DashboardAddress}/");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.DoesNotContain("dev0", await page.GetContentAsync(), StringComparison.Ordinal);
        Assert.Equal(401, await page.EvaluateExpressionAsync<int>("fetch('/events').then(r => r.status)"));
        Assert.Equal(401, await page.EvaluateExpressionAsync<int>("fetch('/api/frame').then(r => r.status)"));

        // The login prompt, as a person uses it.
        await page.TypeAsync("#token", Token);
        await Task.WhenAll(page.WaitForNavigationAsync(), page.ClickAsync("button[type=submit]"));
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#devices tbody tr').length === 3");
        Assert.Equal(["dev0", "dev1", "dev2"], await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#devices tbody tr')].map(r => r.dataset.device)"));
        Assert.Equal(["up", "up", "up"], await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#devices tbody tr td:nth-child(2)')].map(td => td.textContent)"));

        // The plan bar draws the plan in force over the layers, then the one a switch puts in force.
        Assert.Equal(["dev0:0-3", "dev1:4-7", "dev2:8-11"], await SegmentsAsync(page));
        Assert.Equal(Nodes, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#plan-layers i').length"));
        await coordinator.SetPlanAsync(Reference.Chain(Nodes, [5], "dev2", "dev0"));
        var version = coordinator.CurrentPlan!.Version;
        await page.WaitForFunctionAsync($"() => document.querySelector('#plan-bar').dataset.plan.startsWith('v{version} ')");
        Assert.Equal(["dev2:0-5", "dev0:6-11"], await SegmentsAsync(page));
        Assert.Contains($"v{version - 1} \u2192 v{version}", await page.EvaluateExpressionAsync<string>("document.querySelector('#switches li').textContent"), StringComparison.Ordinal);

        // The latency chart gains no point while nothing is served, and gains points while requests flow.
        var frames = await page.EvaluateExpressionAsync<int>("edgesplit.state.frames");
        await page.WaitForFunctionAsync($"() => edgesplit.state.frames >= {frames + 4}");
        Assert.Equal(0, await LatencyPointsAsync(page));
        var points = 0;
        for (var sent = 0; points < 3 && sent < 2000; sent++)
        {
            await coordinator.InferAsync([Reference.Input(sent)]);
            if (sent % 10 == 9)
            {
                points = await LatencyPointsAsync(page);
            }
        }
        Assert.True(points >= 3, $"the latency chart has {points} points after the requests");
        var p50 = await page.EvaluateExpressionAsync<double[]>("edgesplit.charts.latency.data[1]");
        Assert.All(p50, ms => Assert.True(ms > 0 && double.IsFinite(ms), $"p50 {ms} ms"));
        Assert.NotEqual("\u2013", await page.EvaluateExpressionAsync<string>("document.querySelector('#kpi-p50').textContent"));
    }

    private static Task<string[]> SegmentsAsync(IPage page) =>
        page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#plan-bar .segment')].map(s => `${s.dataset.device}:${s.dataset.first}-${s.dataset.last}`)");

    private static Task<int> LatencyPointsAsync(IPage page) => page.EvaluateExpressionAsync<int>("edgesplit.charts.latency.data[0].length");
}
