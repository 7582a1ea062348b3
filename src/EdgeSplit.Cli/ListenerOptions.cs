using System.CommandLine;
using EdgeSplit.Cluster.Transport;

namespace EdgeSplit.Cli;

/// <summary>
/// How <c>agent</c> and <c>serve</c> are reached in a fleet: TLS (<c>--tls-cert</c>, <c>--tls-key</c>,
/// <c>--tls-ca</c>) and <c>--health-listen</c> (grpc.health.v1 alone, without token or TLS, for Kubernetes
/// probes). Clients (<c>infer</c>, <c>top</c>) take the TLS options alone.
/// </summary>
public sealed class ListenerOptions
{
    public Option<string?> HealthListen { get; } = new("--health-listen")
    {
        Description = "HOST:PORT of a plain-text gRPC listener serving only grpc.health.v1, without token or TLS (for Kubernetes liveness and readiness probes).",
    };

    public Option<string?> TlsCert { get; } = new("--tls-cert") { Description = "PEM certificate to serve TLS with and to present to peers (deploy/tls/make-fleet-ca.sh makes one)." };

    public Option<string?> TlsKey { get; } = new("--tls-key") { Description = "PEM private key of --tls-cert." };

    public Option<string?> TlsCa { get; } = new("--tls-ca") { Description = "PEM fleet CA: peers must chain to it, and clients must present a certificate from it (mutual TLS)." };

    /// <summary>The TLS options and --health-listen (agent, serve).</summary>
    public void AddTo(Command command)
    {
        AddTlsTo(command);
        command.Options.Add(HealthListen);
    }

    /// <summary>The TLS options alone (clients).</summary>
    public void AddTlsTo(Command command)
    {
        command.Options.Add(TlsCert);
        command.Options.Add(TlsKey);
        command.Options.Add(TlsCa);
    }

    /// <summary>The health listener's address, checked where it is given.</summary>
    public string? ResolveHealthListen(ParseResult parse)
    {
        var listen = parse.GetValue(HealthListen);
        if (listen is not null)
        {
            // Throws a one-line BadInputException naming what is wrong.
            Endpoints.ParseListen(listen);
        }
        return listen;
    }

    /// <summary>TLS from the files given, or null for plain text; a server needs --tls-cert and --tls-key.</summary>
    public TlsSettings? ResolveTls(ParseResult parse, bool server)
    {
        var (cert, key, ca) = (parse.GetValue(TlsCert), parse.GetValue(TlsKey), parse.GetValue(TlsCa));
        if (cert is null && key is null && ca is null)
        {
            return null;
        }
        if (server && cert is null)
        {
            throw new Graph.BadInputException("TLS needs --tls-cert and --tls-key (the device's certificate from the fleet CA)");
        }
        return TlsSettings.Load(cert, key, ca);
    }
}
