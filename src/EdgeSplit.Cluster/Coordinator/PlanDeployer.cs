using System.Collections.Concurrent;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Graph;
using EdgeSplit.Graph.Tiling;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// One hop of a deployed route: the device, its partition (null: relay the input), what it sends on,
/// the plan stage it runs (-1: the source's relay) and where its results go: hop <see cref="Next"/>
/// (null: delivered), or with <see cref="FanOut"/> several hops at once, each its own tensors.
/// </summary>
internal sealed record RouteHop(int Index, string Device, StagePartition? Partition, IReadOnlyList<string> Forwards)
{
    public int Stage { get; init; } = -1;

    public int? Next { get; init; }

    public IReadOnlyList<(int Hop, IReadOnlyList<string> Tensors)> FanOut { get; init; } = [];

    /// <summary>How many senders' parts of a request this hop waits for (a tile group's gather: one per tile).</summary>
    public int Join { get; init; } = 1;

    /// <summary>Whether the stage's compute time is this hop's alone (not a tile group's part).</summary>
    public bool RunsWholeStage { get; init; } = true;
}

/// <summary>A plan deployed under its version: its route from the device where requests enter, and the requests still on it.</summary>
internal sealed class Deployment(Plan plan, FeatureMapCompression compression, IReadOnlyList<RouteHop> route, string? degraded)
{
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private int _redeployed;
    private volatile bool _retiring;

    public Plan Plan { get; } = plan;

    public FeatureMapCompression Compression { get; } = compression;

    public IReadOnlyList<RouteHop> Route { get; } = route;

    /// <summary>Why this deployment serves in a degraded way (the source device is down); null when it does not.</summary>
    public string? Degraded { get; } = degraded;

    public IEnumerable<string> Devices => Route.Select(h => h.Device).Distinct();

    public int InFlight => Volatile.Read(ref _inFlight);

    public void Enter() => Interlocked.Increment(ref _inFlight);

    /// <summary>True the first time only: this deployment may be deployed again once after an agent lost it.</summary>
    public bool ClaimRedeploy() => Interlocked.Exchange(ref _redeployed, 1) == 0;

    public void Leave()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && _retiring)
        {
            _idle.TrySetResult();
        }
    }

    /// <summary>Completes once no request is on this deployment any more (after it was superseded).</summary>
    public Task Idle()
    {
        _retiring = true;
        if (InFlight == 0)
        {
            _idle.TrySetResult();
        }
        return _idle.Task;
    }
}

/// <summary>
/// Plan deployment: validates a plan against the live agents, builds its route, uploads the partitions
/// an agent lacks, deploys and warms them under the coordinator's one version counter, switches,
/// and retires the superseded version once its last request has finished.
/// </summary>
internal sealed class PlanDeployer(ServedModel model, AgentHealth health, CoordinatorOptions options, ILogger logger)
{
    private readonly SemaphoreSlim _switchLock = new(1, 1);
    private readonly ConcurrentQueue<PlanSwitch> _switches = new();
    private readonly Dictionary<string, StagePartition[]> _partitions = new(StringComparer.Ordinal);
    private readonly Dictionary<(int, TileGrid), TileStagePartitions> _tilePartitions = [];
    private readonly TimeProvider _time = options.TimeProvider;
    private volatile Deployment? _current;
    private volatile string? _unavailable = "no plan deployed yet";
    private long _nextVersion = 1;

    /// <summary>Where agents deliver results.</summary>
    public string ReplyAddress { get; set; } = "";

    public Deployment? Current => _current;

    /// <summary>Why nothing is deployed, when nothing is.</summary>
    public string? Unavailable => _current is null ? _unavailable : null;

    public long NextVersion => Interlocked.Read(ref _nextVersion);

    public IReadOnlyList<PlanSwitch> Switches => [.. _switches];

    /// <summary>Raised after every switch (and when nothing serves any more) with the new deployment.</summary>
    public event Action<Deployment?>? Switched;

    /// <summary>Deploys and warms <paramref name="plan"/> under a new version, then switches to it.</summary>
    public async Task<PlanSwitch> SwitchAsync(Plan plan, FeatureMapCompression compression, string reason, CancellationToken ct)
    {
        await _switchLock.WaitAsync(ct);
        try
        {
            return await SwitchLockedAsync(plan, compression, reason, ct);
        }
        finally
        {
            _switchLock.Release();
        }
    }

    /// <summary>Nothing can serve: Infer fails fast with <paramref name="reason"/> until a plan is deployed again.</summary>
    public void Clear(string reason)
    {
        var had = _current is not null || _unavailable != reason;
        _unavailable = reason;
        var previous = _current;
        _current = null;
        if (had)
        {
            logger.LogError("no plan fits: {Reason}; Infer fails until agents return", reason);
            Switched?.Invoke(null);
        }
        if (previous is not null)
        {
            _ = RetireWhenIdleAsync(previous);
        }
    }

    private async Task<PlanSwitch> SwitchLockedAsync(Plan requested, FeatureMapCompression compression, string reason, CancellationToken ct)
    {
        var started = _time.GetTimestamp();
        var version = Math.Max(Interlocked.Read(ref _nextVersion), requested.Version);
        Interlocked.Exchange(ref _nextVersion, version + 1);
        var plan = requested with { Version = version };
        Validate(plan);
        var (route, degraded) = BuildRoute(plan, Partitions(plan.Cuts), plan.Stages[0].Tiles is { } tiles ? TilePartitions(plan.Stages[0].LastNode, tiles) : null);
        CheckMemory(route);
        await UploadAsync(route, ct);
        await DeployAsync(plan.Version, route, compression, ct);
        var previous = _current;
        var deployment = new Deployment(plan, compression, route, degraded);
        _current = deployment;
        var record = new PlanSwitch(previous?.Plan.Version ?? 0, plan.Version, _time.GetElapsedTime(started), reason, _time.GetUtcNow());
        _switches.Enqueue(record);
        while (_switches.Count > 100)
        {
            _switches.TryDequeue(out _);
        }
        logger.LogInformation("plan switch v{From} -> {Plan} ({Compression}) in {Ms:F1} ms: {Reason}{Degraded}", record.FromVersion, plan, FeatureMapCodec.Name(compression),
            record.Duration.TotalMilliseconds, reason, degraded is null ? "" : $" ({degraded})");
        Switched?.Invoke(deployment);
        if (previous is not null)
        {
            _ = RetireWhenIdleAsync(previous);
        }
        return record;
    }

    private void Validate(Plan plan)
    {
        if (plan.Stages.Count == 0)
        {
            throw new BadInputException("the plan has no stages");
        }
        var next = 0;
        foreach (var stage in plan.Stages)
        {
            if (stage.FirstNode != next || stage.LastNode < stage.FirstNode)
            {
                throw new BadInputException($"plan {plan} is not contiguous at node {next}");
            }
            if (stage.Tiles is { } tiles)
            {
                if (stage.FirstNode != 0)
                {
                    throw new BadInputException($"plan {plan}: only the first stage can run as tiles");
                }
                if (tiles.Devices.Count != tiles.Grid.Count || tiles.Devices.Distinct().Count() != tiles.Devices.Count)
                {
                    throw new BadInputException($"plan {plan}: a {tiles.Grid} grid needs {tiles.Grid.Count} distinct devices, got {string.Join(',', tiles.Devices)}");
                }
            }
            foreach (var device in stage.Tiles?.Devices.Append(stage.Device) ?? [stage.Device])
            {
                if (!health.Members.ContainsKey(device))
                {
                    throw new BadInputException($"plan device '{device}' is not an agent ({string.Join(", ", health.Members.Keys)})");
                }
                if (!health.IsAlive(device))
                {
                    throw new NoPlanFitsException($"plan device '{device}' is not reachable");
                }
            }
            next = stage.LastNode + 1;
        }
        if (next != model.NodeCount)
        {
            throw new BadInputException($"plan {plan} covers nodes 0..{next - 1}, the model has {model.NodeCount}");
        }
    }

    private StagePartition[] Partitions(IReadOnlyList<int> cuts) =>
        Cached(_partitions, string.Join(',', cuts), _ => [.. model.Partitions.Split(cuts)]);

    private TileStagePartitions TilePartitions(int cut, TileGroup tiles) =>
        Cached(_tilePartitions, (cut, tiles.Grid), key => model.Partitions.Tiles(key.Item1, key.Item2));

    /// <summary>Partitions are made once per key (cutting a model is slow) and kept for every later plan that needs them.</summary>
    private static TValue Cached<TKey, TValue>(Dictionary<TKey, TValue> cache, TKey key, Func<TKey, TValue> make)
        where TKey : notnull
    {
        lock (cache)
        {
            if (!cache.TryGetValue(key, out var value))
            {
                value = make(key);
                cache[key] = value;
            }
            return value;
        }
    }

    /// <summary>
    /// The input is where the camera is: the source device relays it to the first stage, a real transfer.
    /// With the source down, requests enter where the camera's frames arrive (the coordinator) and go straight to the first stage.
    /// A tile group's first stage is three steps: the source scatters the frame's slices to the tiles' devices at once,
    /// each runs its tile and sends its share to the gatherer, which joins them once all are in and goes on as after any stage.
    /// </summary>
    private (List<RouteHop> Route, string? Degraded) BuildRoute(Plan plan, StagePartition[] partitions, TileStagePartitions? tiled)
    {
        var route = new List<RouteHop>();
        string? degraded = null;
        var source = health.SourceDevice;
        var first = plan.Stages[0];
        var entry = health.IsAlive(source) ? source : tiled is null ? first.Device : first.Tiles!.Devices[0];
        if (!health.IsAlive(source))
        {
            degraded = $"source device {source} is down: requests enter at {entry}, sent there by the coordinator where the camera's frames arrive";
        }
        else if (tiled is null && first.Device != source)
        {
            route.Add(new RouteHop(0, source, null, [.. model.Inputs.Select(i => i.Name)]) { Next = 1 });
        }
        var layerWiseFrom = 0;
        if (tiled is not null)
        {
            var devices = first.Tiles!.Devices;
            var gather = devices.Count + 1;
            route.Add(new RouteHop(0, entry, tiled.Scatter, tiled.Scatter.Forwards)
            {
                Stage = 0,
                RunsWholeStage = false,
                FanOut = [.. tiled.Tiles.Select((t, k) => (k + 1, t.Inputs))],
            });
            for (var k = 0; k < devices.Count; k++)
            {
                route.Add(new RouteHop(k + 1, devices[k], tiled.Tiles[k], tiled.Tiles[k].Forwards) { Stage = 0, RunsWholeStage = false, Next = gather });
            }
            route.Add(new RouteHop(gather, first.Device, tiled.Gather, tiled.Gather.Forwards)
            {
                Stage = 0,
                RunsWholeStage = false,
                Join = devices.Count,
                Next = plan.Stages.Count > 1 ? gather + 1 : null,
            });
            layerWiseFrom = 1;
        }
        for (var i = layerWiseFrom; i < plan.Stages.Count; i++)
        {
            route.Add(new RouteHop(route.Count, plan.Stages[i].Device, partitions[i], partitions[i].Forwards) { Stage = i, Next = i + 1 < plan.Stages.Count ? route.Count + 1 : null });
        }
        return (route, degraded);
    }

    private void CheckMemory(List<RouteHop> route)
    {
        foreach (var group in route.Where(h => h.Partition is not null).GroupBy(h => h.Device))
        {
            var needed = group.Sum(h => (long)h.Partition!.OnnxBytes.Length);
            var free = Interlocked.Read(ref health.Members[group.Key].MemoryAvailableBytes);
            if (free > 0 && free < needed)
            {
                throw new NoPlanFitsException($"{group.Key} has {free / 1e6:F1} MB free, its partitions need {needed / 1e6:F1} MB");
            }
        }
    }

    private Task UploadAsync(List<RouteHop> route, CancellationToken ct) =>
        Task.WhenAll(route.Where(h => h.Partition is not null).DistinctBy(h => (h.Device, h.Partition!.Sha256)).Select(async hop =>
        {
            var agent = health.Members[hop.Device].Connection;
            var partition = hop.Partition!;
            if (await agent.HasPartitionAsync(partition.Sha256, options.ControlTimeout, ct))
            {
                return;
            }
            await agent.UploadAsync(partition.Sha256, partition.OnnxBytes, options.DeployTimeout, ct);
            logger.LogInformation("uploaded partition {Hash} ({Bytes} bytes) to {Device}", partition.Sha256[..12], partition.OnnxBytes.Length, hop.Device);
        }));

    private Task DeployAsync(long version, List<RouteHop> route, FeatureMapCompression compression, CancellationToken ct) =>
        Task.WhenAll(route.GroupBy(h => h.Device).Select(group =>
        {
            var hops = group.Select(hop =>
            {
                var next = hop.Next is { } n ? route[n] : null;
                return new HopDeployment(hop.Index, hop.Partition?.Sha256, hop.Partition?.Inputs ?? [], hop.Forwards,
                    next is null ? null : PeerAddress(hop.Device, next.Device), next?.Device, compression)
                {
                    NextHop = next?.Index ?? 0,
                    Join = hop.Join,
                    FanOut = [.. hop.FanOut.Select(t => new HopTarget(t.Hop, PeerAddress(hop.Device, route[t.Hop].Device), route[t.Hop].Device, t.Tensors))],
                };
            }).ToList();
            var peers = health.Members.Keys.Where(d => d != group.Key).Select(d => PeerAddress(group.Key, d)).ToList();
            return health.Members[group.Key].Connection.DeployAsync(new DeploymentOrder(version, hops, ReplyAddress, peers), options.DeployTimeout, ct);
        }));

    /// <summary>Where <paramref name="from"/> sends to <paramref name="to"/>: their link's address if one is configured.</summary>
    private string PeerAddress(string from, string to) =>
        options.PeerAddresses?.GetValueOrDefault((from, to)) ?? health.Members[to].Address;

    /// <summary>Retires a superseded version once its last in-flight request has finished (bounded by the retire timeout).</summary>
    private async Task RetireWhenIdleAsync(Deployment old)
    {
        try
        {
            // A request that read the old plan just before the switch may still be about to start: give it a moment.
            await Task.Delay(options.RetireDelay, _time);
            await old.Idle().WaitAsync(options.RetireTimeout, _time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await Task.WhenAll(old.Devices.Where(health.IsAlive).Select(async device =>
            {
                try
                {
                    await health.Members[device].Connection.RetireAsync(old.Plan.Version, options.ControlTimeout, CancellationToken.None);
                }
                catch (ClusterException ex)
                {
                    logger.LogDebug("retiring v{Version} on {Device}: {Message}", old.Plan.Version, device, ex.Message);
                }
            }));
        }
        catch (ObjectDisposedException)
        {
            // The coordinator stopped meanwhile.
        }
    }
}
