using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Runtime.Codec;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Agent;

/// <summary>
/// The agent's state behind its gRPC surface: cached partitions, deployed hops per plan version,
/// and the counters its metrics report.
/// </summary>
internal sealed class AgentCore : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(long Version, int Hop), HopRuntime> _hops = new();
    private readonly SemaphoreSlim _deployLock = new(1, 1);
    private long _executed;
    private long _dropped;
    private long _computeTicks;
    private int _disposed;

    public AgentCore(AgentOptions options, ILogger logger)
    {
        Options = options;
        Logger = logger;
        Store = new PartitionStore(options.ResolveCacheDirectory(), options.Threads);
        Channels = new GrpcChannels(options.Token, options.MaxMessageBytes);
        // The monitor samples at its own default (250 ms) unless the agent options say otherwise.
        Monitor = new Monitoring.ResourceMonitor(options.Monitoring);
        Monitor.Start();
        _cpuOverride = options.CpuUtilisationOverride ?? double.NaN;
    }

    private double _cpuOverride;

    /// <summary>Passive (tensor transfers) and probed link estimates, keyed by the peer's address.</summary>
    public Monitoring.LinkEstimators Links { get; } = new();

    /// <summary>Emulated CPU utilisation reported instead of the measured one; null = measured.</summary>
    public double? CpuUtilisationOverride
    {
        get => Volatile.Read(ref _cpuOverride) is var v && double.IsNaN(v) ? null : v;
        set => Volatile.Write(ref _cpuOverride, value ?? double.NaN);
    }

    /// <summary>Background 1 s samples, for Ping's free memory (Metrics streams sample on their own).</summary>
    public Monitoring.ResourceMonitor Monitor { get; }

    public AgentOptions Options { get; }

    public string Name => Options.Name;

    public ILogger Logger { get; }

    public PartitionStore Store { get; }

    public GrpcChannels Channels { get; }

    public long Executed => Interlocked.Read(ref _executed);

    public long Dropped => Interlocked.Read(ref _dropped);

    public TimeSpan ComputeTime => TimeSpan.FromTicks(Interlocked.Read(ref _computeTicks));

    public int Queued => _hops.Values.Sum(h => h.Queued);

    public IReadOnlyCollection<long> DeployedVersions => [.. _hops.Keys.Select(k => k.Version).Distinct()];

    public void RecordCompute(TimeSpan elapsed)
    {
        Interlocked.Increment(ref _executed);
        Interlocked.Add(ref _computeTicks, elapsed.Ticks);
    }

    public void CountDropped() => Interlocked.Increment(ref _dropped);

    private volatile TaskCompletionSource _unfrozen = Completed();

    /// <summary>Completes when the agent answers calls (always, unless frozen for a test).</summary>
    public Task Unfrozen => _unfrozen.Task;

    public void Freeze() => _unfrozen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Thaw() => _unfrozen.TrySetResult();

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }

    /// <summary>Installs and warms this agent's hops of a version; returns the warm-up time.</summary>
    public async Task<TimeSpan> DeployAsync(long version, IReadOnlyList<HopSpec> hops)
    {
        var started = Stopwatch.GetTimestamp();
        await _deployLock.WaitAsync();
        try
        {
            foreach (var spec in hops)
            {
                if (_hops.TryGetValue((version, spec.Hop), out var existing))
                {
                    if (SameSpec(existing.Spec, spec))
                    {
                        continue;
                    }
                    // A restarted coordinator numbers its plans from 1 again: its word replaces the dead one's.
                    Logger.LogWarning("{Name}: v{Version} hop {Hop} is redeployed with a different partition or route; replacing it", Name, version, spec.Hop);
                    _hops.TryRemove((version, spec.Hop), out _);
                    await existing.DrainAsync(TimeSpan.Zero);
                }
                Microsoft.ML.OnnxRuntime.InferenceSession? session = null;
                if (spec.PartitionSha256 is not null)
                {
                    session = Store.Session(spec.PartitionSha256);
                    var missing = spec.Inputs.Where(i => !session.InputMetadata.ContainsKey(i)).ToList();
                    if (missing.Count > 0 || spec.Inputs.Count != session.InputMetadata.Count)
                    {
                        throw new RpcException(new Status(StatusCode.InvalidArgument, $"hop {spec.Hop} inputs [{string.Join(',', spec.Inputs)}] do not match the partition's [{string.Join(',', session.InputMetadata.Keys)}]"));
                    }
                    if (!await Task.Run(() => HopRuntime.Warm(session)))
                    {
                        Logger.LogInformation("{Name}: v{Version} hop {Hop} has inputs of unknown shape; it warms on its first request", Name, version, spec.Hop);
                    }
                }
                _hops[(version, spec.Hop)] = new HopRuntime(this, spec, session, Options.QueueCapacity);
            }
        }
        finally
        {
            _deployLock.Release();
        }
        var elapsed = Stopwatch.GetElapsedTime(started);
        Logger.LogInformation("{Name}: deployed v{Version} hops [{Hops}] in {Ms:F1} ms", Name, version, string.Join(',', hops.Select(h => h.Hop)), elapsed.TotalMilliseconds);
        return elapsed;
    }

    /// <summary>Drops every hop of a version, letting its queued requests finish first.</summary>
    public async Task RetireAsync(long version)
    {
        await _deployLock.WaitAsync();
        try
        {
            var retired = _hops.Where(kv => kv.Key.Version == version).ToList();
            foreach (var (key, hop) in retired)
            {
                _hops.TryRemove(key, out _);
                await hop.DrainAsync(Options.SendTimeout);
            }
            Store.Release(_hops.Values.Select(h => h.Spec.PartitionSha256).OfType<string>().ToHashSet(StringComparer.Ordinal));
            if (retired.Count > 0)
            {
                Logger.LogInformation("{Name}: retired v{Version}", Name, version);
            }
        }
        finally
        {
            _deployLock.Release();
        }
    }

    /// <summary>Validates a request for a hop and queues it (waits while the hop's queue is full).</summary>
    public async Task ExecuteAsync(long version, int hop, StageWork work, CancellationToken ct)
    {
        if (!_hops.TryGetValue((version, hop), out var runtime))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"plan v{version} hop {hop} is not deployed on agent {Name}"));
        }
        var names = work.Tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        if (names.Count != work.Tensors.Count)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "a tensor name appears twice"));
        }
        var missing = runtime.Required.Where(n => !names.Contains(n)).ToList();
        if (missing.Count > 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"hop {hop} of v{version} needs tensors [{string.Join(',', missing)}] that the request lacks"));
        }
        if (string.IsNullOrEmpty(work.ReplyTo))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "reply_to is empty; the last hop would not know where to deliver"));
        }
        await runtime.EnqueueAsync(work, ct);
    }

    private static bool SameSpec(HopSpec a, HopSpec b) =>
        a.PartitionSha256 == b.PartitionSha256 && a.NextAddress == b.NextAddress && a.Compression == b.Compression
        && a.Inputs.SequenceEqual(b.Inputs) && a.Forwards.SequenceEqual(b.Forwards);

    /// <summary>Drops all queued work at once (a device that dies).</summary>
    public async Task AbortAsync()
    {
        foreach (var hop in _hops.Values)
        {
            await hop.DrainAsync(TimeSpan.Zero);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The DI container disposes this singleton too; the second call does nothing.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        Thaw();
        foreach (var hop in _hops.Values)
        {
            await hop.DisposeAsync();
        }
        _hops.Clear();
        Store.Dispose();
        Channels.Dispose();
        await Monitor.DisposeAsync();
        _deployLock.Dispose();
    }

    internal static FeatureMapCompression Compression(Protos.Compression c) => TensorMapping.FromProto(c);
}
