using System.Collections.Concurrent;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Cluster.Transport;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Agent;

/// <summary>
/// The agent's state behind its gRPC surface: cached partitions, deployed hops per plan version,
/// the peers the coordinator configured (the only ones sent the token), and the counters its metrics report.
/// </summary>
internal sealed class AgentCore : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(long Version, int Hop), HopRuntime> _hops = new();
    private readonly ConcurrentDictionary<long, string> _replyTo = new();
    private readonly ConcurrentDictionary<string, byte> _trusted = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _deployLock = new(1, 1);
    private long _executed;
    private long _dropped;
    private long _computeTicks;
    private double _cpuOverride;
    private int _disposed;

    public AgentCore(AgentOptions options, ILogger logger)
    {
        Options = options;
        Logger = logger;
        Time = options.TimeProvider;
        Store = new PartitionStore(options.ResolveCacheDirectory(), options.Threads, options.Provider);
        Channels = new GrpcChannels(options.Token, options.MaxMessageBytes, options.Channels, options.Tls);
        Links = new LinkEstimators(idleProbeAfter: options.IdleProbeAfter, clock: Time);
        // The monitor samples at its own default (250 ms) unless the agent options say otherwise.
        Monitor = new ResourceMonitor(options.Monitoring with { TimeProvider = Time });
        Monitor.Start();
        _cpuOverride = options.CpuUtilisationOverride ?? double.NaN;
    }

    /// <summary>Passive (tensor transfers) and probed link estimates, keyed by the peer's address.</summary>
    public LinkEstimators Links { get; }

    /// <summary>Emulated CPU utilisation reported instead of the measured one; null = measured.</summary>
    public double? CpuUtilisationOverride
    {
        get => Volatile.Read(ref _cpuOverride) is var v && double.IsNaN(v) ? null : v;
        set => Volatile.Write(ref _cpuOverride, value ?? double.NaN);
    }

    /// <summary>Background samples, for Ping's free memory (Metrics streams sample on their own).</summary>
    public ResourceMonitor Monitor { get; }

    public AgentOptions Options { get; }

    public TimeProvider Time { get; }

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

    /// <summary>Whether the coordinator named <paramref name="address"/> in a Deploy (so it may receive the token).</summary>
    public bool Trusts(string address) => Endpoints.IsPeer(address) && _trusted.ContainsKey(Endpoints.PeerUri(address));

    /// <summary>Another agent, with the token only if the coordinator configured it.</summary>
    public AgentConnection Peer(string address, string? device) =>
        new(Trusts(address) ? Channels.For(address) : Channels.Anonymous(address), device ?? address, Time);

    /// <summary>The coordinator at <paramref name="replyTo"/>, with the token only if a Deploy named it.</summary>
    public CoordinatorConnection Coordinator(string replyTo) =>
        new(Trusts(replyTo) ? Channels.For(replyTo) : Channels.Anonymous(replyTo), Time);

    /// <summary>Installs and warms this agent's hops of a version; returns the warm-up time.</summary>
    public async Task<TimeSpan> DeployAsync(DeploymentOrder order)
    {
        // Every address is checked before anything is installed: a bad one must not reach a send loop.
        var addresses = order.Hops.Select(h => h.NextAddress).OfType<string>().Concat(order.Hops.SelectMany(h => h.FanOut.Select(t => t.Address))).Append(order.ReplyTo).Concat(order.Peers).Where(a => a.Length > 0).ToList();
        foreach (var address in addresses)
        {
            if (!Endpoints.IsPeer(address))
            {
                throw new ClusterException(FailureKind.BadRequest, $"'{address}' in the Deploy of v{order.Version} is not a HOST:PORT address");
            }
        }
        var started = Time.GetTimestamp();
        await _deployLock.WaitAsync();
        try
        {
            foreach (var address in addresses)
            {
                _trusted.TryAdd(Endpoints.PeerUri(address), 0);
            }
            if (order.ReplyTo.Length > 0)
            {
                _replyTo[order.Version] = Endpoints.PeerUri(order.ReplyTo);
            }
            foreach (var hop in order.Hops)
            {
                var spec = new HopSpec(order.Version, hop);
                if (_hops.TryGetValue((order.Version, hop.Hop), out var existing))
                {
                    if (existing.Spec.SameAs(spec))
                    {
                        continue;
                    }
                    // A restarted coordinator numbers its plans from 1 again: its word replaces the dead one's.
                    Logger.LogWarning("{Name}: v{Version} hop {Hop} is redeployed with a different partition or route; replacing it", Name, order.Version, hop.Hop);
                    _hops.TryRemove((order.Version, hop.Hop), out _);
                    await existing.DrainAsync(TimeSpan.Zero);
                }
                Microsoft.ML.OnnxRuntime.InferenceSession? session = null;
                if (hop.PartitionSha256 is not null)
                {
                    session = Store.Session(hop.PartitionSha256);
                    var missing = hop.Inputs.Where(i => !session.InputMetadata.ContainsKey(i)).ToList();
                    if (missing.Count > 0 || hop.Inputs.Count != session.InputMetadata.Count)
                    {
                        throw new ClusterException(FailureKind.BadRequest, $"hop {hop.Hop} inputs [{string.Join(',', hop.Inputs)}] do not match the partition's [{string.Join(',', session.InputMetadata.Keys)}]");
                    }
                    if (!await Task.Run(() => HopRuntime.Warm(session)))
                    {
                        Logger.LogInformation("{Name}: v{Version} hop {Hop} has inputs of unknown shape; it warms on its first request", Name, order.Version, hop.Hop);
                    }
                }
                _hops[(order.Version, hop.Hop)] = new HopRuntime(this, spec, session, Options.QueueCapacity);
            }
        }
        finally
        {
            _deployLock.Release();
        }
        var elapsed = Time.GetElapsedTime(started);
        Logger.LogInformation("{Name}: deployed v{Version} hops [{Hops}] in {Ms:F1} ms", Name, order.Version, string.Join(',', order.Hops.Select(h => h.Hop)), elapsed.TotalMilliseconds);
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
            _replyTo.TryRemove(version, out _);
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

    /// <summary>Validates a request for a hop and queues it (waits while the hop's queue is full); a gather's part waits for the others.</summary>
    public async Task ExecuteAsync(StageWork work, CancellationToken ct)
    {
        var request = work.Request;
        if (!_hops.TryGetValue((request.Version, request.Hop), out var runtime))
        {
            throw new ClusterException(FailureKind.NotReady, $"plan v{request.Version} hop {request.Hop} is not deployed on agent {Name}");
        }
        var names = request.Tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        if (names.Count != request.Tensors.Count)
        {
            throw new ClusterException(FailureKind.BadRequest, "a tensor name appears twice");
        }
        if (!Endpoints.IsPeer(request.ReplyTo))
        {
            throw new ClusterException(FailureKind.BadRequest, $"reply_to '{request.ReplyTo}' is not a HOST:PORT address; the last hop would not know where to deliver");
        }
        if (_replyTo.TryGetValue(request.Version, out var deployed) && Endpoints.PeerUri(request.ReplyTo) != deployed)
        {
            throw new ClusterException(FailureKind.BadRequest, $"reply_to '{request.ReplyTo}' is not where v{request.Version} delivers ({deployed})");
        }
        if (runtime.Joining is { } join)
        {
            // A gather: each tile's part arrives on its own; the hop runs once the last one is in.
            var unknown = names.Where(n => !runtime.Required.Contains(n)).ToList();
            if (unknown.Count > 0)
            {
                throw new ClusterException(FailureKind.BadRequest, $"hop {request.Hop} of v{request.Version} does not take tensors [{string.Join(',', unknown)}]");
            }
            if (join.Add(work) is not { } joined)
            {
                return;
            }
            work = joined;
            names = [.. work.Request.Tensors.Select(t => t.Name)];
        }
        var missing = runtime.Required.Where(n => !names.Contains(n)).ToList();
        if (missing.Count > 0)
        {
            throw new ClusterException(FailureKind.BadRequest, $"hop {request.Hop} of v{request.Version} needs tensors [{string.Join(',', missing)}] that the request lacks");
        }
        await runtime.EnqueueAsync(work, ct);
    }

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
}
