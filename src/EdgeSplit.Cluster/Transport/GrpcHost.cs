using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using EdgeSplit.Graph;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Transport;

/// <summary>Builds a Kestrel HTTP/2-only gRPC host with the cluster's limits, token gate, status mapping and health service.</summary>
internal static class GrpcHost
{
    public static WebApplication Build(
        string listen,
        string? token,
        int maxMessageBytes,
        Action<ILoggingBuilder>? configureLogging,
        Action<IServiceCollection> configureServices,
        Action<WebApplication> mapServices,
        Action<KestrelServerOptions>? configureKestrel = null,
        Action<WebApplication>? beforeTokenGate = null,
        HealthListener? health = null,
        TlsSettings? tls = null)
    {
        var endpoint = Endpoints.ParseListen(listen);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        configureLogging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(endpoint, o =>
            {
                o.Protocols = HttpProtocols.Http2;
                if (tls is not null)
                {
                    o.UseHttps(https =>
                    {
                        https.ServerCertificate = tls.Certificate ?? throw new BadInputException("serving TLS needs --tls-cert and --tls-key");
                        if (tls.Authority is not null)
                        {
                            // Mutual TLS: only clients with a certificate from the fleet CA get to speak at all.
                            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                            https.ClientCertificateValidation = (certificate, _, errors) => tls.Accepts(certificate, errors);
                        }
                    });
                }
            });
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.Http2.InitialConnectionWindowSize = WireLimits.ConnectionWindowBytes;
            kestrel.Limits.Http2.InitialStreamWindowSize = WireLimits.StreamWindowBytes;
            kestrel.Limits.Http2.MaxStreamsPerConnection = 256;
            // Fewer, larger DATA frames for multi-MB tensors when the peer accepts them.
            kestrel.Limits.Http2.MaxFrameSize = 1024 * 1024;
            kestrel.AddServerHeader = false;
            configureKestrel?.Invoke(kestrel);
            health?.AddListener(kestrel);
        });
        // Kestrel reads sockets into pool blocks: 64 KB blocks move multi-MB tensors in far fewer reads.
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, LargeBlockMemoryPoolFactory>();
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = maxMessageBytes;
            o.MaxSendMessageSize = maxMessageBytes;
            // Messages name what went wrong; there are no secrets in an exception here.
            o.EnableDetailedErrors = true;
            o.Interceptors.Add<StatusInterceptor>();
        });
        // The process answering is the check: a wedged host stops answering and misses its deadline.
        builder.Services.AddGrpcHealthChecks().AddCheck("serving", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy());
        configureServices(builder.Services);
        var app = builder.Build();
        // A branch with its own access rules (the dashboard's listener) goes before the gate.
        beforeTokenGate?.Invoke(app);
        health?.MapBranch(app);
        if (!string.IsNullOrEmpty(token))
        {
            // First in the pipeline, health included: nothing of an unauthenticated call's body is read.
            app.Use(new TokenGate(token).InvokeAsync);
        }
        app.MapGrpcHealthChecksService();
        mapServices(app);
        return app;
    }

    /// <summary>
    /// A quiet host with one plain HTTP/1.1 listener on <paramref name="listen"/> (metrics, dashboards: the gRPC port speaks
    /// HTTP/2 only); <paramref name="configureListen"/> may add to the listener (HTTPS).
    /// </summary>
    public static WebApplicationBuilder Http1Builder(string listen, Action<ListenOptions>? configureListen = null)
    {
        var endpoint = Endpoints.ParseListen(listen);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(endpoint, o =>
        {
            o.Protocols = HttpProtocols.Http1;
            configureListen?.Invoke(o);
        }));
        return builder;
    }

    /// <summary>The address the host actually listens on (port 0 resolved), as <c>host:port</c>.</summary>
    public static string BoundAddress(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault() ?? throw new InvalidOperationException("the host reports no bound address");
        // Listeners are IP endpoints (Endpoints.ParseListen), so the reported URI's authority is one.
        return Endpoints.Format(System.Net.IPEndPoint.Parse(new Uri(first).Authority));
    }
}
