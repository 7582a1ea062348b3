using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Runtime.Providers;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Agent;

/// <summary>
/// How an agent runs: its name, where it listens, its ORT threads, partition cache, token, and every
/// duration it waits (a dilated testbed multiplies them all), measured on <see cref="TimeProvider"/>.
/// </summary>
public sealed record AgentOptions(string Name, string Listen = "127.0.0.1:0")
{
    /// <summary>HOST:PORT of a coordinator to join on its own (<c>--join</c>); null = wait to be named in its <c>--agents</c>.</summary>
    public string? Join { get; init; }

    /// <summary>The address the coordinator and other agents reach this agent at; null = the bound address.</summary>
    public string? AdvertiseAddress { get; init; }

    /// <summary>Period of the heartbeat a joined agent sends (the coordinator's timeout should be a few of these).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>ORT intra-op threads per session.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>The ONNX Runtime execution provider partitions run on, and whether a missing one falls back to the CPU.</summary>
    public ProviderChoice Provider { get; init; } = ProviderChoice.Cpu;

    /// <summary>Where partitions are cached by SHA-256; null = a per-name folder under the temp dir.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Shared secret every call must carry; null = open (loopback tests, trusted networks; the agent warns).</summary>
    public string? Token { get; init; }

    /// <summary>Requests queued per hop before Execute waits (backpressure to the previous device).</summary>
    public int QueueCapacity { get; init; } = 4;

    public int MaxMessageBytes { get; init; } = WireLimits.DefaultMaxMessageBytes;

    /// <summary>Largest partition accepted by LoadPartition.</summary>
    public long MaxPartitionBytes { get; init; } = 1L << 30;

    /// <summary>Deadline for forwarding to the next agent or delivering to the coordinator.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline of one RTT or bandwidth probe to a peer.</summary>
    public TimeSpan PeerProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A link with no transfer for this long gets an active bandwidth probe.</summary>
    public TimeSpan IdleProbeAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a retired or disposed hop may finish its queued requests, and the host may take to stop.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Connect and keep-alive timeouts of the agent's channels to peers and the coordinator.</summary>
    public ChannelTimeouts Channels { get; init; } = ChannelTimeouts.Default;

    /// <summary>The clock of every timer, deadline and sampling period (a fake one in tests, the system's otherwise).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    /// <summary>
    /// Link latency, pacing and CPU slowdown this agent applies itself on an emulated device (the loopback
    /// fallback, or a kernel without netem); default: the <c>EDGESPLIT_EMULATED_LINKS</c> file, null on a real device.
    /// </summary>
    public EmulatedLinks? Emulation { get; init; } = EmulatedLinks.FromEnvironment();

    /// <summary>Emulated CPU load: reported as the device's CPU utilisation instead of the measured one (tests, emulated devices).</summary>
    public double? CpuUtilisationOverride { get; init; }

    /// <summary>Optional HOST:PORT of a plain HTTP/1 endpoint serving Prometheus text at /metrics (the gRPC port is HTTP/2 only); it asks for the token too.</summary>
    public string? MetricsListen { get; init; }

    /// <summary>TLS on the agent's port and its channels to peers and the coordinator; null = plain text.</summary>
    public TlsSettings? Tls { get; init; }

    /// <summary>Optional HOST:PORT of a plain-text gRPC listener serving only grpc.health.v1, without token or TLS (Kubernetes probes).</summary>
    public string? HealthListen { get; init; }

    /// <summary>Bytes of an active bandwidth probe, sent only to a configured peer whose link has been idle.</summary>
    public int ProbeBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// How the agent samples its device (the testbed sets emulated cores and the profile's power
    /// model); default: this host, with a generic board power model when no sensor exists (estimated).
    /// </summary>
    public ResourceMonitorOptions Monitoring { get; init; } = new() { PowerModel = GenericBoardPower };

    /// <summary>Fallback power model of a Raspberry-Pi-class board; its readings are labelled estimated.</summary>
    public static PowerModel GenericBoardPower { get; } = new(IdlePowerW: 2.7, PeakPowerW: 6.4, EnergyPerByteNj: 5);

    internal string ResolveCacheDirectory() =>
        CacheDirectory ?? Path.Combine(Path.GetTempPath(), "edgesplit-cache", DeviceName.Check(Name));
}
