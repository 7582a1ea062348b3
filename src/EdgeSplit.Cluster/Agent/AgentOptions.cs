using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Agent;

/// <summary>How an agent runs: its name, where it listens, its ORT threads, partition cache and token.</summary>
public sealed record AgentOptions(string Name, string Listen = "127.0.0.1:0")
{
    /// <summary>ORT intra-op threads per session.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Where partitions are cached by SHA-256; null = a per-name folder under the temp dir.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Shared secret every call must carry; null = open (loopback tests, trusted networks).</summary>
    public string? Token { get; init; }

    /// <summary>Requests queued per hop before Execute waits (backpressure to the previous device).</summary>
    public int QueueCapacity { get; init; } = 4;

    public int MaxMessageBytes { get; init; } = Transport.WireLimits.DefaultMaxMessageBytes;

    /// <summary>Largest partition accepted by LoadPartition.</summary>
    public long MaxPartitionBytes { get; init; } = 1L << 30;

    /// <summary>Deadline for forwarding to the next agent or delivering to the coordinator.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    internal string ResolveCacheDirectory() =>
        CacheDirectory ?? Path.Combine(Path.GetTempPath(), "edgesplit-cache", string.Concat(Name.Split(Path.GetInvalidFileNameChars())));
}
