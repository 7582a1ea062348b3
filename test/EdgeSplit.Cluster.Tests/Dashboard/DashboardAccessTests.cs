using System.Net;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Tests;
using Grpc.Core;

namespace EdgeSplit.Cluster.Tests.Dashboard;

/// <summary>
/// The dashboard's door and its separation from the gRPC port, over plain HTTP/1.1 against a real coordinator with
/// real agents on loopback (the browser's side is in <see cref="DashboardBrowserTests"/>).
/// </summary>
public sealed class DashboardAccessTests
{
    private const string Token = "s3cret-dashboard";

    [Fact]
    public async Task Without_the_token_the_page_its_stream_its_scripts_and_a_frame_are_refused()
    {
        await using var cluster = await StartAsync(Token);
        using var http = Client(followRedirects: false);
        var page = $"http://{cluster.Coordinator!.DashboardAddress}";

        foreach (var path in new[] { "/", "/events", "/api/frame", "/app.js", "/uPlot.iife.min.js", "/?token=wrong", "/events?token=wrong" })
        {
            using var response = await http.GetAsync(page + path);
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.DoesNotContain("dev0", body, StringComparison.Ordinal);
            Assert.DoesNotContain("\"layers\"", body, StringComparison.Ordinal);
        }
        // The refused page is a login prompt, and says when a token was wrong.
        var login = await (await http.GetAsync(page + "/")).Content.ReadAsStringAsync();
        Assert.Contains("name=\"token\"", login, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"wrong\"", login, StringComparison.Ordinal);
        Assert.Contains("id=\"wrong\"", await (await http.GetAsync(page + "/?token=wrong")).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_token_once_in_the_address_sets_a_cookie_that_opens_the_page_and_its_stream_and_nothing_can_be_changed()
    {
        await using var cluster = await StartAsync(Token);
        using var http = Client(followRedirects: false);
        var page = $"http://{cluster.Coordinator!.DashboardAddress}";

        using var login = await http.GetAsync($"{page}/?token={Token}");
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/", login.Headers.Location?.OriginalString);
        var cookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        // The cookie carries a value derived from the token, never the token (cookies go to every port of the host).
        Assert.DoesNotContain(Token, cookie, StringComparison.Ordinal);
        var pair = cookie.Split(';')[0];

        using var withCookie = new HttpRequestMessage(HttpMethod.Get, page + "/");
        withCookie.Headers.Add("Cookie", pair);
        using var html = await http.SendAsync(withCookie);
        Assert.Equal(HttpStatusCode.OK, html.StatusCode);
        Assert.Contains("id=\"plan-bar\"", await html.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var stream = new HttpRequestMessage(HttpMethod.Get, page + "/events");
        stream.Headers.Add("Cookie", pair);
        using var events = await http.SendAsync(stream, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", events.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await events.Content.ReadAsStreamAsync());
        Assert.Equal("event: frame", await reader.ReadLineAsync());
        var data = await reader.ReadLineAsync();
        Assert.StartsWith("data: {", data, StringComparison.Ordinal);
        Assert.Contains("\"name\":\"dev2\"", data, StringComparison.Ordinal);

        // The bearer header works as on /metrics; any method but GET and HEAD is refused.
        using var post = new HttpRequestMessage(HttpMethod.Post, page + "/api/frame");
        post.Headers.Add("Authorization", $"Bearer {Token}");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await http.SendAsync(post)).StatusCode);
        using var frame = new HttpRequestMessage(HttpMethod.Get, page + "/api/frame");
        frame.Headers.Add("Authorization", $"Bearer {Token}");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(frame)).StatusCode);
    }

    [Fact]
    public async Task The_dashboard_port_answers_no_gRPC_and_the_gRPC_port_keeps_serving()
    {
        await using var cluster = await StartAsync(token: null);
        var coordinator = cluster.Coordinator!;
        using var http = Client(followRedirects: false);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://{coordinator.DashboardAddress}/")).StatusCode);

        using (var wrongPort = new ClusterClient(coordinator.DashboardAddress!, token: null))
        {
            await Assert.ThrowsAsync<RpcException>(() => wrongPort.StatusAsync());
        }
        using var client = new ClusterClient(coordinator.Address, token: null);
        Assert.Equal(3, (await client.StatusAsync()).Agents.Count);
        var result = await coordinator.InferAsync([Reference.Input(1)]);
        Assert.NotEmpty(result.Outputs);
    }

    internal static Task<TestCluster> StartAsync(string? token) =>
        TestCluster.StartAsync(SmallModels.Chain(12, 4, 8), 3, cuts: [3, 7], token: token,
            configure: o => o with { DashboardListen = "127.0.0.1:0", MetricsInterval = TimeSpan.FromMilliseconds(250) });

    private static HttpClient Client(bool followRedirects) =>
        new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = followRedirects, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(30) };
}
