using EdgeSplit.Cluster.Transport;
using Microsoft.AspNetCore.Builder;
using Prometheus;

namespace EdgeSplit.Cluster.Monitoring;

/// <summary>
/// A separate HTTP/1 listener serving Prometheus text at /metrics, since the gRPC port speaks
/// HTTP/2 only. Each endpoint has its own registry, so several agents in one process stay apart.
/// With a token, a scrape must send it (<c>Authorization: Bearer TOKEN</c>, Prometheus'
/// <c>authorization</c> setting), or it gets 401.
/// </summary>
public sealed class PrometheusEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;

    private PrometheusEndpoint(WebApplication app, CollectorRegistry registry, string address)
    {
        _app = app;
        Registry = registry;
        Address = address;
    }

    public CollectorRegistry Registry { get; }

    /// <summary>The bound address, <c>host:port</c> (port 0 resolved).</summary>
    public string Address { get; }

    /// <summary>
    /// Starts listening on <paramref name="listen"/> (HOST:PORT) with a fresh registry filled by <paramref name="register"/>;
    /// with <paramref name="tls"/>, over HTTPS with the device's certificate (scrapers present none: the token gates them).
    /// </summary>
    public static async Task<PrometheusEndpoint> StartAsync(string listen, string? token, Action<CollectorRegistry> register, CancellationToken ct = default, TlsSettings? tls = null)
    {
        var app = GrpcHost.Http1Builder(listen, tls is null ? null : tls.ServeWithoutClientCertificates).Build();
        var registry = Metrics.NewCustomRegistry();
        register(registry);
        if (!string.IsNullOrEmpty(token))
        {
            app.Use(new TokenGate(token).InvokeAsync);
        }
        app.MapMetrics("/metrics", registry);
        await app.StartAsync(ct);
        return new PrometheusEndpoint(app, registry, GrpcHost.BoundAddress(app));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
