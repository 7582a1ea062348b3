using EdgeSplit.Cluster.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace EdgeSplit.Cluster.Dashboard;

/// <summary>
/// A dashboard on its own HTTP/1.1 listener, for runs that start one coordinator after another (<c>demo</c>,
/// <c>bench</c>): it shows whichever coordinator follows <see cref="Feed"/> now. <c>serve</c> needs none: its
/// coordinator serves the dashboard on its own Kestrel (<c>CoordinatorOptions.DashboardListen</c>).
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DashboardServer(WebApplication app, DashboardFeed feed, string address)
    {
        _app = app;
        Feed = feed;
        Address = address;
    }

    public DashboardFeed Feed { get; }

    /// <summary>The bound address, <c>host:port</c> (port 0 resolved).</summary>
    public string Address { get; }

    /// <summary>The page's address.</summary>
    public string Url => $"http://{Address}/";

    /// <summary>Starts listening on <paramref name="listen"/> (HOST:PORT); with a <paramref name="token"/>, the page and its stream ask for it.</summary>
    public static async Task<DashboardServer> StartAsync(string listen, string? token, DashboardFeed feed, TimeProvider? time = null, CancellationToken ct = default)
    {
        var builder = GrpcHost.Http1Builder(listen);
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        var app = builder.Build();
        DashboardApp.Configure(app, feed, token, time ?? TimeProvider.System);
        await app.StartAsync(ct);
        return new DashboardServer(app, feed, GrpcHost.BoundAddress(app));
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }
}
