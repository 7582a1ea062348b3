using System.CommandLine;

namespace EdgeSplit.Cli;

/// <summary>
/// The options <c>agent</c> and <c>serve</c> share for how they are reached in a fleet: <c>--health-listen</c>
/// (grpc.health.v1 alone, without token or TLS, for Kubernetes probes).
/// </summary>
public sealed class ListenerOptions
{
    public Option<string?> HealthListen { get; } = new("--health-listen")
    {
        Description = "HOST:PORT of a plain-text gRPC listener serving only grpc.health.v1, without token or TLS (for Kubernetes liveness and readiness probes).",
    };

    public void AddTo(Command command) => command.Options.Add(HealthListen);

    /// <summary>The health listener's address, checked where it is given.</summary>
    public string? ResolveHealthListen(ParseResult parse)
    {
        var listen = parse.GetValue(HealthListen);
        if (listen is not null)
        {
            // Throws a one-line BadInputException naming what is wrong.
            Cluster.Transport.Endpoints.ParseListen(listen);
        }
        return listen;
    }
}
