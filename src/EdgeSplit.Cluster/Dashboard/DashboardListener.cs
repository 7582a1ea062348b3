using EdgeSplit.Cluster.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace EdgeSplit.Cluster.Dashboard;

/// <summary>
/// The dashboard on the coordinator's own Kestrel: a second, HTTP/1.1 listener next to the gRPC one (which speaks
/// HTTP/2 only), whose requests branch off to <see cref="DashboardApp"/> before the gRPC token gate and never reach
/// a gRPC service; gRPC calls never reach the dashboard either.
/// </summary>
internal sealed class DashboardListener(string listen, string? token, TimeProvider time, TlsSettings? tls = null)
{
    private readonly System.Net.IPEndPoint _endpoint = Endpoints.ParseListen(listen);
    private ListenOptions? _options;

    public DashboardFeed Feed { get; } = new();

    /// <summary>The bound address, <c>host:port</c>, once the host has started.</summary>
    public string Address => Endpoints.Format(_options?.IPEndPoint ?? throw new InvalidOperationException("the dashboard's listener is not bound yet"));

    public void AddListener(KestrelServerOptions kestrel) => kestrel.Listen(_endpoint, o =>
    {
        o.Protocols = HttpProtocols.Http1;
        // With TLS on, browsers get HTTPS with the coordinator's certificate and the token gate as before.
        tls?.ServeWithoutClientCertificates(o);
        _options = o;
    });

    /// <summary>Branches the requests that arrive on the dashboard's port (Kestrel fills in the bound port when it was 0).</summary>
    public void MapBranch(WebApplication app) =>
        app.MapWhen(c => c.Connection.LocalPort == _options?.IPEndPoint?.Port, branch => DashboardApp.Configure(branch, Feed, token, time));
}
