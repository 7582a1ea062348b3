using EdgeSplit.Cluster.Dashboard;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Runtime.Codec;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// How the coordinator serves. Every duration it waits is here (a dilated testbed multiplies them all),
/// and every one is measured on <see cref="TimeProvider"/>.
/// </summary>
public sealed record CoordinatorOptions
{
    public string Listen { get; init; } = "127.0.0.1:0";

    /// <summary>Address agents deliver results to; null = the bound address.</summary>
    public string? AdvertiseAddress { get; init; }

    /// <summary>
    /// Where one agent reaches another, by (from, to) device, when it is not the address the
    /// coordinator uses: on the namespace testbed each pair talks over its own shaped link, at the
    /// peer's address on that link. Pairs not listed use the agent's address.
    /// </summary>
    public IReadOnlyDictionary<(string From, string To), string>? PeerAddresses { get; init; }

    public string? Token { get; init; }

    /// <summary>Device where requests enter (the camera); null = the first agent.</summary>
    public string? SourceDevice { get; init; }

    /// <summary>One attempt's deadline, end to end; past it the request is retried.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempts per request before the client sees an error.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>Delay before the first retry (then exponential with jitter); a re-routed attempt is re-sent at once.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// An attempt unanswered this long makes the coordinator probe its plan's devices at once; a device that
    /// does not answer that probe within <see cref="ProbeTimeout"/>, while another does, is marked down and
    /// the requests on it re-sent on the new plan. A stalled attempt is also hedged on a newer plan when one serves.
    /// </summary>
    public TimeSpan StallAfter { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Period of the health probes of every agent.</summary>
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Deadline of one health probe (two missed in a row mark a device down; one, while a request on it stalls).</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromMilliseconds(750);

    /// <summary>Deadline of the first probes at start, which pay for connection set-up and JIT on both sides.</summary>
    public TimeSpan FirstProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>At start, how long an adaptive coordinator waits for every agent's first metrics sample before choosing the first plan.</summary>
    public TimeSpan FirstSampleTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A joined agent (agent --join) silent this long is treated as gone, as a dead one is.</summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Without agents given at start, how many must join before the first plan.</summary>
    public int MinAgents { get; init; } = 1;

    /// <summary>Told the bound address as soon as the coordinator listens, before it waits for agents to join (serve prints it; tests start agents with it).</summary>
    public Action<string>? Listening { get; init; }

    /// <summary>Deadline of a partition cache check or a retire.</summary>
    public TimeSpan ControlTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Deadline of uploading and of deploying (warming) one plan's partitions on one agent.</summary>
    public TimeSpan DeployTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A superseded plan is retired once idle, but not before this (a request may have just read it) nor after <see cref="RetireTimeout"/>.</summary>
    public TimeSpan RetireDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Longest wait for a superseded plan's last in-flight request before it is retired anyway.</summary>
    public TimeSpan RetireTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>When no plan fits, the wait before trying again without any agent returning (doubling up to 32 times this).</summary>
    public TimeSpan ReplanBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Period of the agents' Metrics streams the coordinator follows (for Status and top); null = only when adapting.</summary>
    public TimeSpan? MetricsInterval { get; init; }

    /// <summary>Optional HOST:PORT of a plain HTTP/1 endpoint serving Prometheus text at /metrics (it asks for the token too).</summary>
    public string? MetricsListen { get; init; }

    /// <summary>
    /// Optional HOST:PORT of an HTTP/1.1 listener on the coordinator's own Kestrel serving the live dashboard at /
    /// (the page asks for the token too).
    /// </summary>
    public string? DashboardListen { get; init; }

    /// <summary>TLS on the coordinator's port and its channels to the agents; null = plain text.</summary>
    public TlsSettings? Tls { get; init; }

    /// <summary>Optional HOST:PORT of a plain-text gRPC listener serving only grpc.health.v1, without token or TLS (Kubernetes probes).</summary>
    public string? HealthListen { get; init; }

    /// <summary>A dashboard served elsewhere (demo and bench keep one up for the whole run) that shows this coordinator while it runs.</summary>
    public DashboardFeed? Dashboard { get; init; }

    /// <summary>Feature-map compression of the initial plan.</summary>
    public FeatureMapCompression Compression { get; init; } = FeatureMapCompression.None;

    public int MaxMessageBytes { get; init; } = WireLimits.DefaultMaxMessageBytes;

    /// <summary>Connect and keep-alive timeouts of the channels to the agents.</summary>
    public ChannelTimeouts Channels { get; init; } = ChannelTimeouts.Default;

    /// <summary>The clock of every timer, deadline and period (a fake one in tests, the system's otherwise).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }
}
