using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Graph;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// The adaptation loop: drives the <see cref="IPlanSource"/> and deploys what it decides. It asks for a
/// plan at start, when a device of the plan dies and when a device returns (so a shrunken plan grows back),
/// on every monitoring tick, after every served and timed-out request, and tells the source what was
/// really deployed. The source's choices are switched to one at a time, the latest winning; when no plan
/// fits it tries again on the next membership change or after a doubling back-off, never in a storm.
/// </summary>
internal sealed class AdaptationLoop : IAsyncDisposable
{
    private readonly ServedModel _model;
    private readonly IPlanSource _source;
    private readonly AgentHealth _health;
    private readonly PlanDeployer _deployer;
    private readonly CoordinatorOptions _options;
    private readonly TimeSpan? _tick;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _replanLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly Lock _gate = new();
    private readonly long _started;
    private Plan? _wanted;
    private Task? _converging;
    private int _retryScheduled;
    private int _backoffDoublings;

    public AdaptationLoop(ServedModel model, IPlanSource source, AgentHealth health, PlanDeployer deployer, CoordinatorOptions options, TimeSpan? tick, ILogger logger)
    {
        _model = model;
        _source = source;
        _health = health;
        _deployer = deployer;
        _options = options;
        _tick = tick;
        _time = options.TimeProvider;
        _logger = logger;
        _started = _time.GetTimestamp();
        Log = new DecisionLog(source.Adaptation, _time, logger);
    }

    public DecisionLog Log { get; }

    private TimeSpan Elapsed => _time.GetElapsedTime(_started);

    /// <summary>Whether a re-plan is running now (a plan may be about to be deployed).</summary>
    public bool Replanning => _replanLock.CurrentCount == 0;

    /// <summary>Deploys the first plan (fixed, or the source's), then follows membership changes and ticks.</summary>
    public async Task StartAsync(Plan? initial, CancellationToken ct)
    {
        _health.Changed += OnMembershipChanged;
        if (initial is not null)
        {
            await SetPlanAsync(initial, _options.Compression, "initial plan", ct);
        }
        else
        {
            await ReplanAsync("initial plan", ct);
            if (_deployer.Current is null)
            {
                throw new BadInputException($"cannot serve: {_deployer.Unavailable}");
            }
        }
        if (_tick is { } period && period > TimeSpan.Zero)
        {
            // The timer starts here, not on the loop's thread: a clock advanced right after start already counts.
            var timer = new PeriodicTimer(period, _time);
            _loops.Add(Task.Run(() => TickLoopAsync(timer, _stop.Token), CancellationToken.None));
        }
    }

    /// <summary>A plan from a client or the host: deployed as given, and the source told.</summary>
    public async Task<PlanSwitch> SetPlanAsync(Plan plan, FeatureMapCompression compression, string reason, CancellationToken ct)
    {
        try
        {
            return await _deployer.SwitchAsync(plan, compression, reason, ct);
        }
        finally
        {
            _source.OnDeployed(_deployer.Current?.Plan, Elapsed);
        }
    }

    /// <summary>The request the source sees now.</summary>
    private PlanRequest Request(string reason)
    {
        var agents = _health.Snapshot();
        return new PlanRequest(_deployer.NextVersion, _model.NodeCount, _health.SourceDevice, [.. agents.Where(a => a.Alive).Select(a => a.Name)],
            agents.ToDictionary(a => a.Name, a => a.PingMemoryBytes), _model.NodeCostsMs ?? [], _deployer.Current?.Plan, reason)
        {
            Agents = agents,
            Elapsed = Elapsed,
        };
    }

    /// <summary>Whether the deployment in force still serves as it should: every device alive, entering at the source exactly when the source is alive.</summary>
    private bool Sound(Deployment? current) =>
        current is not null && current.Devices.All(_health.IsAlive) && (current.Degraded is null) == _health.IsAlive(_health.SourceDevice);

    /// <summary>Asks the source for a plan over the live devices and switches to it when it differs or the one in force is not sound.</summary>
    public async Task ReplanAsync(string reason, CancellationToken ct)
    {
        await _replanLock.WaitAsync(ct);
        try
        {
            for (var tries = 0; tries <= _health.Members.Count; tries++)
            {
                var request = Request(reason);
                if (request.LiveDevices.Count == 0)
                {
                    NothingServes("no agent is reachable; start agents or check --agents");
                    return;
                }
                try
                {
                    var proposal = _source.Propose(request);
                    Log.Add(proposal.Decision);
                    var current = _deployer.Current;
                    if (Sound(current) && current!.Plan.SamePlacement(proposal.Plan))
                    {
                        return;
                    }
                    if (Sound(current) && proposal.Plan.Stages.FirstOrDefault(s => !_health.IsAlive(s.Device)) is { } unreachable)
                    {
                        // A proposal on a device that cannot be reached now must not take down the plan that still serves.
                        _logger.LogWarning("kept plan v{Version}: the proposal needs {Device}, which is not reachable", current!.Plan.Version, unreachable.Device);
                        return;
                    }
                    await SetPlanAsync(proposal.Plan, current?.Compression ?? _options.Compression, reason, ct);
                    _backoffDoublings = 0;
                    return;
                }
                catch (ClusterException ex) when (ex.Device is not null && ex.Kind is FailureKind.Unreachable or FailureKind.TimedOut)
                {
                    _logger.LogWarning("{Message}; trying without {Device}", ex.Message, ex.Device);
                    _health.MarkDown(ex.Device, ex.Message);
                }
                catch (Exception ex) when (ex is ClusterException or BadInputException or ArgumentException)
                {
                    // NoPlanFitsException and the planners' NoFeasiblePlanException land here too.
                    NothingServes(ex.Message);
                    return;
                }
            }
            NothingServes("every attempt to deploy a plan failed");
        }
        finally
        {
            _replanLock.Release();
        }
    }

    /// <summary>
    /// After a failed attempt: the suspect device is probed, and the plan re-made if it lost a device. A device
    /// that answers but refused the request (restarted between two health probes, it lost the deployed plan)
    /// gets the plan deployed again, once per version.
    /// </summary>
    public async Task RecoverAsync(string? suspect)
    {
        var current = _deployer.Current;
        if (current is null)
        {
            return;
        }
        await _health.SuspectAsync(suspect is not null ? [suspect] : current.Devices);
        if (!Sound(_deployer.Current))
        {
            await ReplanQuietlyAsync("a device of the plan is unreachable");
        }
        else if (suspect is not null && ReferenceEquals(_deployer.Current, current) && current.Devices.Contains(suspect) && current.ClaimRedeploy())
        {
            try
            {
                await SetPlanAsync(current.Plan, current.Compression, $"{suspect} refused a request of v{current.Plan.Version}: deploying the plan again", _stop.Token);
            }
            catch (Exception ex) when (ex is ClusterException or BadInputException or OperationCanceledException)
            {
                _logger.LogWarning("redeploying after a refusal: {Message}", ex.Message);
            }
        }
    }

    /// <summary>Feeds one served request to the source; returns its estimated energy.</summary>
    public double OnServed(Deployment deployment, double latencyMs, IReadOnlyList<HopTiming> hops)
    {
        Log.CountServed();
        // A tile group's stage has no one device's time (the cost model skips it): NaN.
        var stageMs = deployment.Plan.Stages.Select((_, k) => deployment.Route.FirstOrDefault(h => h.Stage == k && h.RunsWholeStage) is { } hop
            ? hops.FirstOrDefault(t => t.Hop == hop.Index)?.ComputeMs ?? double.NaN
            : double.NaN).ToList();
        var transfers = hops.Where(t => !string.IsNullOrEmpty(t.FromDevice) && t.FromDevice != t.Device)
            .Select(t => new HopObservation(t.FromDevice!, t.Device, t.BytesIn, t.TransferInMs)).ToList();
        var tileMs = deployment.Route.Where(h => !h.RunsWholeStage)
            .Select(h => (h.Device, hops.FirstOrDefault(t => t.Hop == h.Index && t.ComputeMs > 0)?.ComputeMs ?? 0)).ToList();
        var observed = new ServedObservation(deployment.Plan, latencyMs, stageMs, transfers) { TileComputeMs = tileMs };
        var feedback = _source.OnServed(observed, Request("served request"));
        if (feedback.Next is { } next)
        {
            Log.Add(next.Decision);
            if (next.Decision?.Switched != false)
            {
                _ = Want(next.Plan);
            }
        }
        return feedback.EstimatedEnergyJ;
    }

    /// <summary>An attempt got no answer in time: when the source chooses again, the switch completes before the attempt fails, so its retry runs on the new plan.</summary>
    public Task OnTimedOutAsync(Deployment deployment, TimeSpan waited)
    {
        if (_source.OnTimedOut(deployment.Plan, waited, Request("a request timed out")) is not { } next)
        {
            return Task.CompletedTask;
        }
        Log.Add(next.Decision);
        return next.Decision?.Switched == false ? Task.CompletedTask : Want(next.Plan);
    }

    /// <summary>
    /// Deploys the source's newest choice. The latest choice wins: one made while a switch runs is taken up
    /// when it ends, never dropped; the source is told what ended up deployed (a failed switch keeps the old plan).
    /// </summary>
    private Task Want(Plan plan)
    {
        lock (_gate)
        {
            _wanted = plan;
            return _converging ??= Task.Run(ConvergeAsync);
        }
    }

    private async Task ConvergeAsync()
    {
        while (true)
        {
            Plan? next;
            lock (_gate)
            {
                next = _wanted;
                _wanted = null;
                if (next is null)
                {
                    _converging = null;
                    return;
                }
            }
            var current = _deployer.Current;
            if (current is null || current.Plan.SamePlacement(next) || !next.Stages.All(s => _health.IsAlive(s.Device)))
            {
                _source.OnDeployed(current?.Plan, Elapsed);
                continue;
            }
            try
            {
                await SetPlanAsync(next, current.Compression, "adaptation: the plan source chose again", _stop.Token);
            }
            catch (Exception ex) when (ex is ClusterException or BadInputException or OperationCanceledException)
            {
                _logger.LogWarning("adaptive switch: {Message}", ex.Message);
            }
        }
    }

    private async Task TickLoopAsync(PeriodicTimer timer, CancellationToken ct)
    {
        using var _ = timer;
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var current = _deployer.Current;
                if (!Sound(current) || _converging is not null)
                {
                    continue;
                }
                try
                {
                    if (_source.OnTick(Request("metrics update")) is not { } proposal)
                    {
                        continue;
                    }
                    Log.Add(proposal.Decision);
                    if (proposal.Decision?.Switched == true && !proposal.Plan.SamePlacement(current!.Plan))
                    {
                        await Want(proposal.Plan);
                    }
                }
                catch (Exception ex) when (ex is ClusterException or BadInputException or ArgumentException or InvalidOperationException)
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

    private void OnMembershipChanged(string device, bool alive)
    {
        var reason = alive ? $"device {device} returned" : $"device {device} unreachable";
        // A death only matters to a plan that uses the device; a return may let a shrunken plan grow back.
        if (alive || !Sound(_deployer.Current))
        {
            _ = Task.Run(() => ReplanQuietlyAsync(reason));
        }
    }

    private async Task ReplanQuietlyAsync(string reason)
    {
        try
        {
            await ReplanAsync(reason, _stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
            // Stopped meanwhile.
        }
    }

    /// <summary>Nothing serves: say why once, and look again after a back-off that doubles while nothing changes.</summary>
    private void NothingServes(string reason)
    {
        _deployer.Clear(reason);
        _source.OnDeployed(null, Elapsed);
        if (Interlocked.Exchange(ref _retryScheduled, 1) == 1)
        {
            return;
        }
        var delay = _options.ReplanBackoff * (1 << Math.Min(5, _backoffDoublings++));
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(delay, _time, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            finally
            {
                Volatile.Write(ref _retryScheduled, 0);
            }
            if (_deployer.Current is null)
            {
                await ReplanQuietlyAsync("trying again: nothing serves");
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        _health.Changed -= OnMembershipChanged;
        await _stop.CancelAsync();
        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_converging is { } converging)
        {
            await converging.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        // Not disposed: requests still finishing may read its token; it holds no timer.
    }
}
