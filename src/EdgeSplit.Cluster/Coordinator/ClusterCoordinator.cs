using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// Deploys versioned plans on the agents, sends each request into the plan's route at the source
/// device, waits for the last hop to deliver, retries after re-planning when a device fails, and
/// switches plans without losing or duplicating a request.
/// </summary>
internal sealed class ClusterCoordinator : IAsyncDisposable
{
    private readonly ServedModel _model;
    private readonly IPlanSource _planSource;
    private readonly CoordinatorOptions _options;
    private readonly ILogger _logger;
    private readonly GrpcChannels _channels;
    private readonly Dictionary<string, AgentEntry> _agents;
    private readonly string _source;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<Delivery>> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _switchLock = new(1, 1);
    private readonly ResiliencePipeline _retry;
    private readonly ConcurrentQueue<PlanSwitch> _switches = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, StagePartition[]> _partitionCache = new(StringComparer.Ordinal);
    private readonly PlannerPlanSource? _adaptive;
    private readonly List<Task> _loops = [];
    private int _adaptSwitching;
    private Plan? _rlWanted;
    private Task? _healthLoop;
    private Deployment? _current;
    private string? _unavailable;
    private long _nextVersion = 1;
    private long _completed, _failed, _retried, _lateDeliveries;
    private int _disposed;

    public ClusterCoordinator(ServedModel model, IReadOnlyList<AgentEndpoint> agents, IPlanSource planSource, CoordinatorOptions options, ILogger logger)
    {
        if (agents.Count == 0)
        {
            throw new Graph.BadInputException("no agents given; pass --agents NAME=HOST:PORT,...");
        }
        if (agents.Select(a => a.Name).Distinct(StringComparer.Ordinal).Count() != agents.Count)
        {
            throw new Graph.BadInputException("agent names repeat in --agents; give each device a unique name");
        }
        _model = model;
        _planSource = planSource;
        _options = options;
        _logger = logger;
        _channels = new GrpcChannels(options.Token, options.MaxMessageBytes);
        _agents = agents.ToDictionary(a => a.Name, a => new AgentEntry(a.Name, a.Address), StringComparer.Ordinal);
        _source = options.SourceDevice ?? agents[0].Name;
        if (!_agents.ContainsKey(_source))
        {
            throw new Graph.BadInputException($"source device '{_source}' is not among the agents ({string.Join(", ", _agents.Keys)})");
        }
        _adaptive = planSource as PlannerPlanSource;
        _adaptive?.Attach(_source, Snapshot, logger);
        // One attempt means no retry: Polly refuses a retry strategy of zero retries, so add none.
        _retry = options.MaxAttempts <= 1 ? ResiliencePipeline.Empty : new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<AttemptFailedException>(),
            MaxRetryAttempts = options.MaxAttempts - 1,
            Delay = TimeSpan.FromMilliseconds(20),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            OnRetry = async args =>
            {
                Interlocked.Increment(ref _retried);
                var failed = args.Outcome.Exception as AttemptFailedException;
                _logger.LogInformation("retrying a request (attempt {Attempt}): {Reason}", args.AttemptNumber + 2, failed?.Message);
                await RecoverAsync(failed?.Device, failed?.Version ?? 0);
            },
        }).Build();
    }

    /// <summary>Where agents deliver results.</summary>
    public string ReplyAddress { get; set; } = "";

    public Plan? CurrentPlan => _current?.Plan;

    public IReadOnlyList<PlanSwitch> Switches => [.. _switches];

    /// <summary>Probes the agents, deploys the first plan (fixed, or from the plan source) and starts health checks.</summary>
    public async Task StartAsync(Plan? initial, CancellationToken ct)
    {
        // The first calls pay for connection set-up and JIT on both sides: give them longer.
        await Task.WhenAll(_agents.Values.Select(a => ProbeAsync(a, ct, TimeSpan.FromSeconds(5))));
        var interval = _options.MetricsInterval ?? _adaptive?.Options.MetricsInterval;
        if (interval is { } period && period > TimeSpan.Zero)
        {
            foreach (var agent in _agents.Values)
            {
                _loops.Add(Task.Run(() => MetricsLoopAsync(agent, period, _stop.Token), CancellationToken.None));
            }
            if (_adaptive is not null)
            {
                // The first plan is chosen from start-up measurements: wait (bounded) for every live agent's first sample.
                var until = Stopwatch.GetTimestamp() + (long)(Math.Min(5, Math.Max(1, 3 * period.TotalSeconds)) * Stopwatch.Frequency);
                while (_agents.Values.Any(a => a.Alive && a.Latest is null) && Stopwatch.GetTimestamp() < until)
                {
                    await Task.Delay(20, ct);
                }
            }
        }
        if (initial is not null)
        {
            await SetPlanAsync(initial, _options.Compression, "initial plan", ct);
        }
        else
        {
            await ReplanAsync("initial plan", ct);
            if (_current is null)
            {
                throw new Graph.BadInputException($"cannot serve: {_unavailable}");
            }
        }
        _healthLoop = Task.Run(() => HealthLoopAsync(_stop.Token), CancellationToken.None);
        if (_adaptive is not null && interval is { } tick && tick > TimeSpan.Zero)
        {
            _loops.Add(Task.Run(() => AdaptationLoopAsync(tick, _stop.Token), CancellationToken.None));
        }
    }

    // ------------------------------------------------------------------ monitoring and adaptation

    private IReadOnlyList<AgentSnapshot> Snapshot() =>
        [.. _agents.Values.Select(a => new AgentSnapshot(a.Name, a.Address, a.Alive, Interlocked.Read(ref a.MemoryAvailableBytes), a.Latest))];

    /// <summary>Follows one agent's Metrics stream (links to every other agent), reconnecting after failures.</summary>
    private async Task MetricsLoopAsync(AgentEntry agent, TimeSpan interval, CancellationToken ct)
    {
        var peers = _agents.Values.Where(a => a != agent).ToList();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var request = new Proto.MetricsRequest { IntervalMs = (int)Math.Max(50, interval.TotalMilliseconds) };
                request.Peers.Add(peers.Select(p => p.Address));
                request.PeerNames.Add(peers.Select(p => p.Name));
                using var call = AgentClient(agent.Name).Metrics(request, cancellationToken: ct);
                await foreach (var metrics in call.ResponseStream.ReadAllAsync(ct))
                {
                    agent.Latest = Agent.AgentService.FromProto(metrics);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException ex) when (!ct.IsCancellationRequested)
            {
                _logger.LogDebug("metrics stream of {Name}: {Status}", agent.Name, ex.Status);
            }
            await Task.Delay(interval, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>On every monitoring period: asks the adaptive plan source, and switches when it says so.</summary>
    private async Task AdaptationLoopAsync(TimeSpan interval, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                try
                {
                    var current = _current;
                    if (current is null || Volatile.Read(ref _adaptSwitching) == 1 || current.Route.Any(h => !_agents[h.Device].Alive))
                    {
                        continue;
                    }
                    if (_adaptive!.OnTick(current.Plan) is { } plan)
                    {
                        await AdaptiveSwitchAsync(plan, "adaptation: predicted gain exceeds switch cost", ct);
                    }
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or Graph.BadInputException or DeployFailedException or RpcException or NoPlanFitsException)
                {
                    // NoFeasiblePlanException is a BadInputException: keep serving the current plan.
                    _logger.LogWarning("adaptation: {Message}", ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task AdaptiveSwitchAsync(Plan plan, string reason, CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _adaptSwitching, 1) == 1)
        {
            return;
        }
        try
        {
            await SetPlanAsync(plan, _current?.Compression ?? _options.Compression, reason, ct);
        }
        finally
        {
            Volatile.Write(ref _adaptSwitching, 0);
        }
    }

    /// <summary>Feeds one served request to the adaptive source; returns its estimated energy.</summary>
    private double ObserveServed(Deployment deployment, double latencyMs, IReadOnlyList<HopTiming> hops)
    {
        if (_adaptive is null)
        {
            return double.NaN;
        }
        var stageMs = new List<double>();
        foreach (var hop in deployment.Route.Where(h => h.Partition is not null))
        {
            var timing = hops.FirstOrDefault(t => t.Hop == hop.Index);
            stageMs.Add(timing?.ComputeMs ?? double.NaN);
        }
        var transfers = hops.Where(t => !string.IsNullOrEmpty(t.FromDevice) && t.FromDevice != t.Device)
            .Select(t => new HopObservation(t.FromDevice!, t.Device, t.BytesIn, t.TransferInMs)).ToList();
        var (energy, next) = _adaptive.OnServed(new ServedObservation(deployment.Plan, latencyMs, stageMs, transfers));
        SwitchForRl(next, "rl: new choice for the next request window");
        return energy;
    }

    /// <summary>
    /// Tells the adaptive source an attempt on this deployment got no answer in time. When rl chooses
    /// again, the switch completes before the attempt fails, so the retry runs on the new plan.
    /// </summary>
    private Task ObserveTimedOutAsync(Deployment deployment, double waitedMs)
    {
        if (_adaptive?.OnTimedOut(deployment.Plan, waitedMs) is not { } next)
        {
            return Task.CompletedTask;
        }
        Volatile.Write(ref _rlWanted, next);
        return ConvergeOnRlChoiceAsync("rl: the plan left a request unanswered");
    }

    private void SwitchForRl(Plan? next, string reason)
    {
        if (next is null)
        {
            return;
        }
        Volatile.Write(ref _rlWanted, next);
        _ = Task.Run(() => ConvergeOnRlChoiceAsync(reason));
    }

    /// <summary>
    /// Deploys rl's newest choice. The latest choice wins: one made while a switch is running is
    /// taken up when it ends, never dropped, so the plan serving requests and the plan rl is learning
    /// about cannot drift apart. rl is told what ended up deployed (a failed switch keeps the old plan).
    /// </summary>
    private async Task ConvergeOnRlChoiceAsync(string reason)
    {
        while (Volatile.Read(ref _rlWanted) is not null)
        {
            if (Interlocked.Exchange(ref _adaptSwitching, 1) == 1)
            {
                // Another switch is running; look again shortly rather than lose this choice.
                await Task.Delay(TimeSpan.FromMilliseconds(20), _stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (_stop.IsCancellationRequested)
                {
                    return;
                }
                continue;
            }
            try
            {
                if (Interlocked.Exchange(ref _rlWanted, null) is { } wanted && _current?.Plan.SamePlacement(wanted) != true)
                {
                    await SetPlanAsync(wanted, _current?.Compression ?? _options.Compression, reason, _stop.Token);
                }
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or Graph.BadInputException or DeployFailedException or RpcException or NoPlanFitsException or OperationCanceledException)
            {
                _logger.LogWarning("rl switch: {Message}", ex.Message);
            }
            finally
            {
                Volatile.Write(ref _adaptSwitching, 0);
            }
            if (Volatile.Read(ref _rlWanted) is null)
            {
                _adaptive?.OnDeployed(_current?.Plan);
            }
        }
    }

    // ------------------------------------------------------------------ requests

    public async Task<InferResult> InferAsync(IReadOnlyList<WireTensor> inputs, CancellationToken ct)
    {
        ValidateInputs(inputs);
        if (_current is null)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"no plan fits the cluster: {_unavailable}"));
        }
        var id = Guid.NewGuid().ToString("N");
        var attempt = 0;
        try
        {
            var result = await _retry.ExecuteAsync(async token => await AttemptAsync(id, ++attempt, inputs, token), ct);
            Interlocked.Increment(ref _completed);
            return result;
        }
        catch (AttemptFailedException ex)
        {
            Interlocked.Increment(ref _failed);
            throw new RpcException(new Status(StatusCode.Unavailable, $"request failed after {attempt} attempts: {ex.Message}"));
        }
        catch (NoPlanException ex)
        {
            Interlocked.Increment(ref _failed);
            throw new RpcException(new Status(StatusCode.FailedPrecondition, ex.Message));
        }
    }

    private async ValueTask<InferResult> AttemptAsync(string id, int attempt, IReadOnlyList<WireTensor> inputs, CancellationToken ct)
    {
        var deployment = _current ?? throw new NoPlanException($"no plan fits the cluster: {_unavailable}");
        Interlocked.Increment(ref deployment.InFlight);
        var key = $"{id}#{attempt}";
        var started = Stopwatch.GetTimestamp();
        var delivery = new TaskCompletionSource<Delivery>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[key] = delivery;
        try
        {
            var entry = deployment.Route[0];
            var deadline = DateTimeOffset.UtcNow + _options.AttemptTimeout;
            var request = new Proto.ExecuteRequest
            {
                RequestId = key,
                Attempt = attempt,
                Version = deployment.Plan.Version,
                Hop = 0,
                ReplyTo = ReplyAddress,
                DeadlineUnixMs = deadline.ToUnixTimeMilliseconds(),
                SentUnixMs = (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds,
            };
            request.Tensors.AddRange(inputs.Select(TensorMapping.ToProto));
            try
            {
                await AgentClient(entry.Device).ExecuteAsync(request, deadline: deadline.UtcDateTime, cancellationToken: ct);
            }
            catch (RpcException ex) when (!ct.IsCancellationRequested)
            {
                throw new AttemptFailedException($"{entry.Device} refused the request: {ex.Status.StatusCode} {ex.Status.Detail}", entry.Device, deployment.Plan.Version);
            }
            Delivery result;
            try
            {
                var remaining = deadline - DateTimeOffset.UtcNow;
                result = await delivery.Task.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, ct);
            }
            catch (TimeoutException)
            {
                await ObserveTimedOutAsync(deployment, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                throw new AttemptFailedException($"no result within {_options.AttemptTimeout.TotalSeconds:F1} s on plan v{deployment.Plan.Version} (the last agent delivers to {ReplyAddress}; if agents cannot reach that address, set --advertise)", null, deployment.Plan.Version);
            }
            if (result.Error is not null)
            {
                throw new AttemptFailedException(result.Error, result.FailedDevice, deployment.Plan.Version);
            }
            var latencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var energy = ObserveServed(deployment, latencyMs, result.Hops);
            return new InferResult(result.Outputs, deployment.Plan.Version, attempt) { LatencyMs = latencyMs, Plan = deployment.Plan, Hops = result.Hops, EstimatedEnergyJ = energy };
        }
        finally
        {
            _pending.TryRemove(key, out _);
            Interlocked.Decrement(ref deployment.InFlight);
        }
    }

    /// <summary>A last hop's delivery; a late one for an attempt already given up is dropped (never answered twice).</summary>
    public void Deliver(string key, IReadOnlyList<WireTensor> outputs, string? error, string? failedDevice, IReadOnlyList<HopTiming>? hops = null)
    {
        if (!_pending.TryGetValue(key, out var waiting) || !waiting.TrySetResult(new Delivery(outputs, error, failedDevice, hops ?? [])))
        {
            Interlocked.Increment(ref _lateDeliveries);
        }
    }

    private void ValidateInputs(IReadOnlyList<WireTensor> inputs)
    {
        foreach (var spec in _model.Inputs)
        {
            var tensor = inputs.FirstOrDefault(t => t.Name == spec.Name)
                ?? throw new RpcException(new Status(StatusCode.InvalidArgument, $"input '{spec.Name}' is missing; the model takes [{string.Join(", ", _model.Inputs.Select(i => i.Name))}]"));
            var fits = tensor.ElementType == spec.ElementType && (spec.Shape is null
                || (tensor.Shape.Length == spec.Shape.Count && spec.Shape.Zip(tensor.Shape).All(p => p.First is null || p.First == p.Second)));
            if (!fits || tensor.Compression != FeatureMapCompression.None)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument,
                    $"input '{spec.Name}' is {tensor.ElementType}[{string.Join(',', tensor.Shape)}], the model wants {spec.ElementType}[{string.Join(',', (spec.Shape ?? []).Select(d => d?.ToString() ?? "?"))}]"));
            }
        }
        if (inputs.Count != _model.Inputs.Count)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"got {inputs.Count} inputs, the model takes {_model.Inputs.Count}"));
        }
    }

    // ------------------------------------------------------------------ plans

    /// <summary>Deploys and warms <paramref name="plan"/> under a new version, then switches to it.</summary>
    public async Task<PlanSwitch> SetPlanAsync(Plan plan, FeatureMapCompression compression, string reason, CancellationToken ct)
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

    private async Task<PlanSwitch> SwitchLockedAsync(Plan requested, FeatureMapCompression compression, string reason, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var version = Math.Max(_nextVersion, requested.Version);
        _nextVersion = version + 1;
        var plan = requested with { Version = version };
        Validate(plan);
        var partitions = Partitions(plan.Cuts);
        var route = BuildRoute(plan, partitions);
        CheckMemory(route);
        await UploadAsync(route, ct);
        await DeployAsync(plan.Version, route, compression, ct);
        var previous = _current;
        _current = new Deployment(plan, compression, route);
        _unavailable = null;
        var record = new PlanSwitch(previous?.Plan.Version ?? 0, plan.Version, Stopwatch.GetElapsedTime(started), reason, DateTimeOffset.UtcNow);
        _switches.Enqueue(record);
        while (_switches.Count > 100)
        {
            _switches.TryDequeue(out _);
        }
        _logger.LogInformation("plan switch v{From} -> {Plan} ({Compression}) in {Ms:F1} ms: {Reason}", record.FromVersion, plan, FeatureMapCodec.Name(compression), record.Duration.TotalMilliseconds, reason);
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
            throw new Graph.BadInputException("the plan has no stages");
        }
        var next = 0;
        foreach (var stage in plan.Stages)
        {
            if (stage.FirstNode != next || stage.LastNode < stage.FirstNode)
            {
                throw new Graph.BadInputException($"plan {plan} is not contiguous at node {next}");
            }
            if (!_agents.TryGetValue(stage.Device, out var agent))
            {
                throw new Graph.BadInputException($"plan device '{stage.Device}' is not an agent ({string.Join(", ", _agents.Keys)})");
            }
            if (!agent.Alive)
            {
                throw new Graph.BadInputException($"plan device '{stage.Device}' is not reachable");
            }
            next = stage.LastNode + 1;
        }
        if (next != _model.NodeCount)
        {
            throw new Graph.BadInputException($"plan {plan} covers nodes 0..{next - 1}, the model has {_model.NodeCount}");
        }
    }

    private StagePartition[] Partitions(IReadOnlyList<int> cuts)
    {
        var key = string.Join(',', cuts);
        lock (_partitionCache)
        {
            if (!_partitionCache.TryGetValue(key, out var partitions))
            {
                partitions = [.. _model.Partitions.Split(cuts)];
                _partitionCache[key] = partitions;
            }
            return partitions;
        }
    }

    private List<RouteHop> BuildRoute(Plan plan, StagePartition[] partitions)
    {
        var route = new List<RouteHop>();
        if (plan.Stages[0].Device != _source)
        {
            // The input is where the camera is: the source device relays it to the first stage, a real transfer.
            route.Add(new RouteHop(0, _source, null, [.. _model.Inputs.Select(i => i.Name)]));
        }
        for (var i = 0; i < plan.Stages.Count; i++)
        {
            route.Add(new RouteHop(route.Count, plan.Stages[i].Device, partitions[i], partitions[i].Forwards));
        }
        return route;
    }

    private void CheckMemory(List<RouteHop> route)
    {
        foreach (var group in route.Where(h => h.Partition is not null).GroupBy(h => h.Device))
        {
            var needed = group.Sum(h => (long)h.Partition!.OnnxBytes.Length);
            var free = _agents[group.Key].MemoryAvailableBytes;
            if (free > 0 && free < needed)
            {
                throw new NoPlanFitsException($"{group.Key} has {free / 1e6:F1} MB free, its partitions need {needed / 1e6:F1} MB");
            }
        }
    }

    private async Task UploadAsync(List<RouteHop> route, CancellationToken ct)
    {
        await Task.WhenAll(route.Where(h => h.Partition is not null).DistinctBy(h => (h.Device, h.Partition!.Sha256)).Select(async hop =>
        {
            var client = AgentClient(hop.Device);
            var partition = hop.Partition!;
            try
            {
                var cached = await client.HasPartitionAsync(new Proto.PartitionRef { Sha256 = partition.Sha256 }, deadline: Deadline(TimeSpan.FromSeconds(10)), cancellationToken: ct);
                if (cached.Cached)
                {
                    return;
                }
                using var call = client.LoadPartition(deadline: Deadline(TimeSpan.FromMinutes(2)), cancellationToken: ct);
                for (var offset = 0; offset < partition.OnnxBytes.Length; offset += WireLimits.PartitionChunkBytes)
                {
                    var length = Math.Min(WireLimits.PartitionChunkBytes, partition.OnnxBytes.Length - offset);
                    await call.RequestStream.WriteAsync(new Proto.PartitionChunk
                    {
                        Sha256 = offset == 0 ? partition.Sha256 : "",
                        TotalBytes = offset == 0 ? partition.OnnxBytes.Length : 0,
                        Data = UnsafeByteOperations.UnsafeWrap(partition.OnnxBytes.AsMemory(offset, length)),
                    }, ct);
                }
                await call.RequestStream.CompleteAsync();
                await call;
                _logger.LogInformation("uploaded partition {Hash} ({Bytes} bytes) to {Device}", partition.Sha256[..12], partition.OnnxBytes.Length, hop.Device);
            }
            catch (RpcException ex)
            {
                throw new DeployFailedException(hop.Device, ex.StatusCode, $"uploading a partition to {hop.Device} failed: {ex.Status.StatusCode} {ex.Status.Detail}", ex);
            }
        }));
    }

    private async Task DeployAsync(long version, List<RouteHop> route, FeatureMapCompression compression, CancellationToken ct)
    {
        await Task.WhenAll(route.GroupBy(h => h.Device).Select(async group =>
        {
            var request = new Proto.DeployRequest { Version = version };
            foreach (var hop in group)
            {
                var next = hop.Index + 1 < route.Count ? route[hop.Index + 1] : null;
                var config = new Proto.HopConfig
                {
                    Hop = hop.Index,
                    PartitionSha256 = hop.Partition?.Sha256 ?? "",
                    NextAddress = next is null ? "" : PeerAddress(hop.Device, next.Device),
                    NextDevice = next?.Device ?? "",
                    Compression = TensorMapping.ToProto(compression),
                };
                config.Inputs.Add(hop.Partition?.Inputs ?? []);
                config.Forwards.Add(hop.Forwards);
                request.Hops.Add(config);
            }
            try
            {
                await AgentClient(group.Key).DeployAsync(request, deadline: Deadline(TimeSpan.FromMinutes(2)), cancellationToken: ct);
            }
            catch (RpcException ex)
            {
                throw new DeployFailedException(group.Key, ex.StatusCode, $"deploying v{version} on {group.Key} failed: {ex.Status.StatusCode} {ex.Status.Detail}", ex);
            }
        }));
    }

    /// <summary>Where <paramref name="from"/> sends to <paramref name="to"/>: their link's address if one is configured.</summary>
    private string PeerAddress(string from, string to) =>
        _options.PeerAddresses?.GetValueOrDefault((from, to)) ?? _agents[to].Address;

    /// <summary>Retires a superseded version once its last in-flight request has finished.</summary>
    private async Task RetireWhenIdleAsync(Deployment old)
    {
        var waitUntil = Stopwatch.GetTimestamp() + (long)((_options.AttemptTimeout * 2).TotalSeconds * Stopwatch.Frequency);
        // A request that read the old plan just before the switch may still be about to start: give it a moment.
        await Task.Delay(50).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        while (Volatile.Read(ref old.InFlight) > 0 && Stopwatch.GetTimestamp() < waitUntil && !_stop.IsCancellationRequested)
        {
            await Task.Delay(20).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        foreach (var device in old.Route.Select(h => h.Device).Distinct())
        {
            try
            {
                await AgentClient(device).RetireAsync(new Proto.RetireRequest { Version = old.Plan.Version }, deadline: Deadline(TimeSpan.FromSeconds(15)));
            }
            catch (RpcException ex)
            {
                _logger.LogDebug("retiring v{Version} on {Device}: {Status}", old.Plan.Version, device, ex.Status);
            }
        }
    }

    // ------------------------------------------------------------------ faults

    /// <summary>After a failed attempt: probe the suspect device(s) and re-plan if the plan uses a dead one.</summary>
    private async Task RecoverAsync(string? suspect, long failedVersion)
    {
        var current = _current;
        if (current is null)
        {
            return;
        }
        var suspects = suspect is not null && _agents.ContainsKey(suspect) ? [suspect] : current.Route.Select(h => h.Device).Distinct().ToList();
        await Task.WhenAll(suspects.Select(d => ProbeAsync(_agents[d], _stop.Token)));
        if (current.Route.Any(h => !_agents[h.Device].Alive) && ReferenceEquals(current, _current))
        {
            await ReplanAsync($"device {string.Join(", ", current.Route.Where(h => !_agents[h.Device].Alive).Select(h => h.Device).Distinct())} unreachable", _stop.Token);
        }
    }

    /// <summary>Asks the plan source for a plan over the live devices and switches to it; on failure serves nothing, with a reason.</summary>
    private async Task ReplanAsync(string reason, CancellationToken ct)
    {
        await _switchLock.WaitAsync(ct);
        try
        {
            // Another failure may have re-planned already while this one waited.
            if (_current is not null && _current.Route.All(h => _agents[h.Device].Alive))
            {
                return;
            }
            for (var tries = 0; tries < _agents.Count + 1; tries++)
            {
                var live = _agents.Values.Where(a => a.Alive).Select(a => a.Name).ToList();
                var request = new PlanRequest(_nextVersion, _model.NodeCount, _source, live,
                    _agents.Values.ToDictionary(a => a.Name, a => a.MemoryAvailableBytes),
                    _model.NodeCostsMs ?? [], _current?.Plan, reason);
                try
                {
                    var plan = _planSource.Propose(request);
                    await SwitchLockedAsync(plan, _current?.Compression ?? _options.Compression, reason, ct);
                    return;
                }
                catch (Exception ex) when (ex is NoPlanFitsException or NoFeasiblePlanException)
                {
                    // A planner behind the seam may say so in the Planning project's words.
                    NoPlan(ex.Message);
                    return;
                }
                catch (DeployFailedException ex) when (ex.Unreachable)
                {
                    _logger.LogWarning("{Message}; trying without it", ex.Message);
                    _agents[ex.Device].Alive = false;
                }
                catch (DeployFailedException ex)
                {
                    NoPlan(ex.Message);
                    return;
                }
            }
            NoPlan("every attempt to deploy a plan failed");
        }
        finally
        {
            _switchLock.Release();
        }
    }

    private void NoPlan(string reason)
    {
        _unavailable = reason;
        _current = null;
        _logger.LogError("no plan fits: {Reason}; Infer fails until agents return", reason);
    }

    private async Task HealthLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.HealthInterval, ct);
                await ProbeAllAsync(ct);
                var current = _current;
                if (current is null)
                {
                    if (_agents.Values.Any(a => a.Alive))
                    {
                        await ReplanAsync("agents reachable again", ct);
                    }
                }
                else if (current.Route.Any(h => !_agents[h.Device].Alive))
                {
                    await ReplanAsync("health check: a device of the plan is unreachable", ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is RpcException or DeployFailedException or Graph.BadInputException or InvalidOperationException)
            {
                _logger.LogWarning("health loop: {Message}", ex.Message);
            }
        }
    }

    private Task ProbeAllAsync(CancellationToken ct) => Task.WhenAll(_agents.Values.Select(a => ProbeAsync(a, ct)));

    /// <summary>grpc.health.v1 check plus a Ping for free memory, both under a short deadline.</summary>
    private async Task ProbeAsync(AgentEntry agent, CancellationToken ct, TimeSpan? timeout = null)
    {
        try
        {
            var invoker = _channels.For(agent.Address);
            var health = await new Health.HealthClient(invoker).CheckAsync(new HealthCheckRequest(), deadline: Deadline(timeout ?? _options.ProbeTimeout), cancellationToken: ct);
            var ping = await new Proto.Agent.AgentClient(invoker).PingAsync(new Proto.PingRequest(), deadline: Deadline(timeout ?? _options.ProbeTimeout), cancellationToken: ct);
            var alive = health.Status == HealthCheckResponse.Types.ServingStatus.Serving;
            if (alive != agent.Alive)
            {
                _logger.LogInformation("agent {Name} at {Address} is {State} (health {Status})", agent.Name, agent.Address, alive ? "up" : "down", health.Status);
            }
            agent.Alive = alive;
            agent.ConsecutiveFailures = 0;
            Interlocked.Exchange(ref agent.MemoryAvailableBytes, ping.MemoryAvailableBytes);
        }
        catch (RpcException ex) when (!ct.IsCancellationRequested)
        {
            // A refused connection is certain; one slow answer on a busy device is not, two in a row are.
            if (ex.StatusCode != StatusCode.Unavailable && ++agent.ConsecutiveFailures < 2)
            {
                return;
            }
            if (agent.Alive)
            {
                _logger.LogWarning("agent {Name} at {Address} is down: {Status} {Detail}", agent.Name, agent.Address, ex.StatusCode, ex.Status.Detail);
            }
            agent.Alive = false;
        }
    }

    // ------------------------------------------------------------------ status

    public CoordinatorStatus Status()
    {
        var current = _current;
        return new CoordinatorStatus(
            current?.Plan,
            current?.Compression ?? _options.Compression,
            [.. _agents.Values.Select(a => new AgentState(a.Name, a.Address, a.Alive))],
            Interlocked.Read(ref _completed),
            Interlocked.Read(ref _failed),
            Interlocked.Read(ref _retried),
            _pending.Count,
            Switches,
            _unavailable,
            _model.Name,
            _model.Inputs,
            _model.OutputNames)
        {
            Adaptation = _adaptive?.Status(),
            Devices = [.. _agents.Values.Select(DeviceViewOf)],
        };
    }

    private DeviceView DeviceViewOf(AgentEntry agent)
    {
        var sample = agent.Latest;
        var byAddress = _agents.Values.ToDictionary(a => a.Address, a => a.Name, StringComparer.Ordinal);
        return new DeviceView(agent.Name, agent.Alive, sample?.Time, sample?.CpuUtilisation ?? double.NaN,
            sample is null ? double.NaN : PlannerPlanSource.CpuAvailability(sample),
            sample?.MemoryAvailableBytes ?? Interlocked.Read(ref agent.MemoryAvailableBytes), sample?.PowerW ?? double.NaN, sample?.PowerEstimated ?? true,
            sample?.Queued ?? 0, sample?.Executed ?? 0,
            [.. (sample?.Links ?? []).Select(l => new LinkView(byAddress.GetValueOrDefault(l.Peer, l.Peer), l.RttMs, l.BandwidthBytesPerSecond))]);
    }

    private Proto.Agent.AgentClient AgentClient(string device) => new(_channels.For(_agents[device].Address));

    private static DateTime Deadline(TimeSpan after) => DateTime.UtcNow + after;

    public async ValueTask DisposeAsync()
    {
        // The DI container disposes this singleton too; the second call does nothing.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stop.CancelAsync();
        if (_healthLoop is not null)
        {
            await _healthLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _channels.Dispose();
        _stop.Dispose();
    }

    private sealed class AgentEntry(string name, string address)
    {
        public string Name { get; } = name;

        public string Address { get; } = address;

        public volatile bool Alive = true;

        public long MemoryAvailableBytes;

        public int ConsecutiveFailures;

        public volatile Agent.DeviceSample? Latest;
    }

    private sealed record RouteHop(int Index, string Device, StagePartition? Partition, IReadOnlyList<string> Forwards);

    private sealed class Deployment(Plan plan, FeatureMapCompression compression, IReadOnlyList<RouteHop> route)
    {
        public Plan Plan { get; } = plan;

        public FeatureMapCompression Compression { get; } = compression;

        public IReadOnlyList<RouteHop> Route { get; } = route;

        public int InFlight;
    }

    private sealed record Delivery(IReadOnlyList<WireTensor> Outputs, string? Error, string? FailedDevice, IReadOnlyList<HopTiming> Hops);

    private sealed class AttemptFailedException(string message, string? device, long version) : Exception(message)
    {
        public string? Device { get; } = device;

        public long Version { get; } = version;
    }

    private sealed class NoPlanException(string message) : Exception(message);

    /// <summary>Deploying on one device failed; <see cref="Unreachable"/> tells a dead device from a refused plan.</summary>
    internal sealed class DeployFailedException(string device, StatusCode status, string message, Exception inner) : Exception(message, inner)
    {
        public string Device { get; } = device;

        public bool Unreachable { get; } = status is StatusCode.Unavailable or StatusCode.DeadlineExceeded;
    }
}
