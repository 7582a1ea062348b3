using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace EdgeSplit.Cluster.Transport;

/// <summary>
/// <c>--health-listen</c>: a second plain-text HTTP/2 listener serving only <c>grpc.health.v1</c>, without the token
/// or TLS, for probes that carry neither (the kubelet's gRPC liveness and readiness probes). Its requests branch off
/// before the token gate and reach nothing but the health service; the main port keeps asking for the token.
/// </summary>
internal sealed class HealthListener(string listen)
{
    private readonly System.Net.IPEndPoint _endpoint = Endpoints.ParseListen(listen);
    private ListenOptions? _options;

    /// <summary>The bound address, <c>host:port</c>, once the host has started.</summary>
    public string Address => Endpoints.Format(_options?.IPEndPoint ?? throw new InvalidOperationException("the health listener is not bound yet"));

    public void AddListener(KestrelServerOptions kestrel) => kestrel.Listen(_endpoint, o =>
    {
        o.Protocols = HttpProtocols.Http2;
        _options = o;
    });

    /// <summary>Branches the requests that arrive on the health port (Kestrel fills in the bound port when it was 0).</summary>
    public void MapBranch(WebApplication app) =>
        app.MapWhen(c => c.Connection.LocalPort == _options?.IPEndPoint?.Port, branch =>
        {
            // The host's routing has already picked an endpoint for any gRPC method: refuse all but health here.
            branch.Use(async (context, next) =>
            {
                if (context.Request.Path.StartsWithSegments("/grpc.health.v1.Health", StringComparison.Ordinal))
                {
                    await next(context);
                    return;
                }
                context.Response.ContentType = "application/grpc";
                context.Response.Headers["grpc-status"] = "12";
                context.Response.Headers["grpc-message"] = "only grpc.health.v1 is served on the health port";
            });
            branch.UseRouting();
            branch.UseEndpoints(endpoints => endpoints.MapGrpcHealthChecksService());
        });
}
