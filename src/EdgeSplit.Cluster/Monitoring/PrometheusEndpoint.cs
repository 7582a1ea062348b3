using Prometheus;

namespace EdgeSplit.Cluster.Monitoring;

/// <summary>
/// A separate HTTP/1 listener serving Prometheus text at /metrics, since the gRPC port speaks
/// HTTP/2 only. Each endpoint has its own registry, so several agents in one process stay apart.
/// </summary>
public sealed class PrometheusEndpoint : IAsyncDisposable
{
    private readonly KestrelMetricServer _server;

    private PrometheusEndpoint(KestrelMetricServer server, CollectorRegistry registry)
    {
        _server = server;
        Registry = registry;
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Starts listening on <paramref name="listen"/> (HOST:PORT) with a fresh registry filled by <paramref name="register"/>.</summary>
    public static PrometheusEndpoint Start(string listen, Action<CollectorRegistry> register)
    {
        var endpoint = Transport.GrpcHost.ParseEndpoint(listen);
        var registry = Metrics.NewCustomRegistry();
        register(registry);
        var server = new KestrelMetricServer(endpoint.Address.ToString(), endpoint.Port, "/metrics", registry);
        server.Start();
        return new PrometheusEndpoint(server, registry);
    }

    public async ValueTask DisposeAsync() => await _server.StopAsync();
}
