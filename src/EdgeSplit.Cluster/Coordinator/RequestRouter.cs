using System.Collections.Concurrent;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Runtime.Codec;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// Request routing: sends each request into the deployed route at the device where requests enter,
/// waits for the last hop's delivery, and retries failed attempts (after recovery) with Polly. An
/// attempt that stalls has its plan's devices probed at once; when its plan loses a device it is re-sent
/// on the plan that replaces it, waiting for that plan within the attempt's time if it is not deployed
/// yet, and when a newer plan serves while it waits, it is hedged there (the first answer wins). Nothing
/// is ever answered twice.
/// </summary>
internal sealed class RequestRouter
{
    private readonly ServedModel _model;
    private readonly PlanDeployer _deployer;
    private readonly AgentHealth _health;
    private readonly AdaptationLoop _loop;
    private readonly CoordinatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline _retry;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<Delivery>> _pending = new(StringComparer.Ordinal);
    private volatile TaskCompletionSource _switched = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ServedWindow _window;
    private long _completed, _failed, _retried, _late, _reroutes;

    public RequestRouter(ServedModel model, PlanDeployer deployer, AgentHealth health, AdaptationLoop loop, CoordinatorOptions options, ILogger logger)
    {
        _model = model;
        _deployer = deployer;
        _health = health;
        _loop = loop;
        _options = options;
        _time = options.TimeProvider;
        _logger = logger;
        _window = new ServedWindow(_time, TimeSpan.FromMinutes(1), 4096);
        deployer.Switched += _ => Interlocked.Exchange(ref _switched, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        // One attempt means no retry: Polly refuses a retry strategy of zero retries, so add none.
        _retry = options.MaxAttempts <= 1 ? ResiliencePipeline.Empty : new ResiliencePipelineBuilder { TimeProvider = _time }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<AttemptFailedException>(),
            MaxRetryAttempts = options.MaxAttempts - 1,
            Delay = options.RetryDelay,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            OnRetry = async args =>
            {
                Interlocked.Increment(ref _retried);
                var failed = args.Outcome.Exception as AttemptFailedException;
                _logger.LogInformation("retrying a request (attempt {Attempt}): {Reason}", args.AttemptNumber + 2, failed?.Message);
                if (failed is not null)
                {
                    await _loop.RecoverAsync(failed.Device);
                }
            },
        }).Build();
    }

    public long Completed => Interlocked.Read(ref _completed);

    public long Failed => Interlocked.Read(ref _failed);

    public long Retried => Interlocked.Read(ref _retried);

    public int InFlight => _pending.Count;

    /// <summary>The requests answered in the last minute (at most 4096), oldest first.</summary>
    public IReadOnlyList<ServedSample> RecentServed() => _window.Snapshot();

    /// <summary>Raised when a request ends, answered or failed.</summary>
    public event Action? Ended;

    public async Task<InferResult> InferAsync(IReadOnlyList<WireTensor> inputs, CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString("N");
        var attempt = 0;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _shutdown.Token);
        try
        {
            ValidateInputs(inputs);
            var result = await _retry.ExecuteAsync(async token => await AttemptAsync(id, ++attempt, inputs, token), linked.Token);
            Interlocked.Increment(ref _completed);
            Ended?.Invoke();
            return result;
        }
        catch (AttemptFailedException ex)
        {
            Interlocked.Increment(ref _failed);
            Ended?.Invoke();
            throw new ClusterException(FailureKind.Unreachable, $"request failed after {attempt} attempts: {ex.Message}");
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            Interlocked.Increment(ref _failed);
            Ended?.Invoke();
            // Unavailable, so a client retries on the coordinator that comes back.
            throw new ClusterException(FailureKind.Unreachable, "the coordinator is shutting down; send the request again");
        }
        catch (Exception ex) when (ex is ClusterException or OperationCanceledException)
        {
            // Every request the client sees fail counts, those refused before any attempt included.
            Interlocked.Increment(ref _failed);
            Ended?.Invoke();
            throw;
        }
    }

    /// <summary>Ends every request in flight at once (the coordinator stops): their clients get Unavailable and may retry elsewhere.</summary>
    public void Shutdown() => _shutdown.Cancel();

    /// <summary>A last hop's delivery; a late one for an attempt already given up is dropped (never answered twice).</summary>
    public void Deliver(Delivery delivery)
    {
        if (!_pending.TryGetValue(delivery.RequestId, out var waiting) || !waiting.TrySetResult(delivery))
        {
            Interlocked.Increment(ref _late);
        }
    }

    private async ValueTask<InferResult> AttemptAsync(string id, int attempt, IReadOnlyList<WireTensor> inputs, CancellationToken ct)
    {
        var started = _time.GetTimestamp();
        var first = _deployer.Current ?? await NextPlanAsync(ct);
        var deadline = _time.GetUtcNow() + _options.AttemptTimeout;
        using var scope = new TimeoutScope(_time, _options.AttemptTimeout, ct);
        var timedOut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onTimeout = scope.Token.Register(() => timedOut.TrySetResult());
        var sends = new List<Send> { Start($"{id}#{attempt}", attempt, first, inputs, deadline, scope.Token) };
        var stalled = false;
        var waitingForPlan = false;
        try
        {
            while (true)
            {
                var switched = _switched.Task;
                var stall = stalled ? Never : Task.Delay(Max(TimeSpan.Zero, _options.StallAfter - _time.GetElapsedTime(started)), _time, scope.Token);
                var done = await Task.WhenAny([.. sends.Select(s => (Task)s.Result.Task), switched, stall, timedOut.Task]);
                if (sends.FirstOrDefault(s => s.Result.Task == done) is { } answered)
                {
                    var delivery = await answered.Result.Task;
                    if (delivery.Error is null)
                    {
                        return Served(answered, delivery, attempt, started);
                    }
                    sends.Remove(answered);
                    answered.Abandon();
                    if (sends.Count == 0 && (delivery.FailedDevice is null || _health.IsAlive(delivery.FailedDevice)))
                    {
                        throw new AttemptFailedException(delivery.Error, delivery.FailedDevice);
                    }
                    if (sends.Count > 0)
                    {
                        continue;
                    }
                    // The hop failed on a device already known dead: re-route below, as for a lost device.
                }
                if (timedOut.Task.IsCompleted)
                {
                    ct.ThrowIfCancellationRequested();
                    var waited = _time.GetElapsedTime(started);
                    await _loop.OnTimedOutAsync(first, waited);
                    throw new AttemptFailedException($"no result within {_options.AttemptTimeout.TotalSeconds:0.###} s on plan v{first.Plan.Version} (the last agent delivers to {_deployer.ReplyAddress}; if agents cannot reach that address, set --advertise)", null);
                }
                if (done == stall && !stall.IsCanceled)
                {
                    stalled = true;
                    // Two witnesses make a hung device: this stalled request, and a probe it misses within the same time.
                    _ = _health.SuspectAsync(sends.SelectMany(s => s.Deployment.Devices));
                }
                // A switch happened (or the stall just came): drop sends stuck on a dead device, hedge on a newer plan.
                var current = _deployer.Current;
                foreach (var lost in sends.Where(s => s.Deployment.Devices.Any(d => !_health.IsAlive(d))).ToList())
                {
                    sends.Remove(lost);
                    lost.Abandon();
                }
                if (sends.Count == 0)
                {
                    if (current is not null && current.Devices.All(_health.IsAlive))
                    {
                        // Re-sent on the plan that replaced the lost device, within the same attempt: a re-route costs no attempt.
                        sends.Add(Start($"{id}#{attempt}r{Interlocked.Increment(ref _reroutes)}", attempt, current, inputs, deadline, scope.Token));
                        continue;
                    }
                    if (!waitingForPlan)
                    {
                        // The plan lost a device and its replacement is not deployed yet: the request waits for it
                        // within this attempt's time (the next switch wakes the loop), rather than failing while the
                        // membership change is still being re-planned. A re-plan is asked for, in case none runs.
                        waitingForPlan = true;
                        _logger.LogDebug("request {Id}: plan v{Version} lost a device; waiting for the next plan", id, first.Plan.Version);
                        _ = _loop.RecoverAsync(null);
                    }
                    continue;
                }
                if (stalled && current is not null && sends.All(s => s.Deployment != current) && current.Devices.All(_health.IsAlive))
                {
                    _logger.LogDebug("hedging request {Id} on v{Version}", id, current.Plan.Version);
                    sends.Add(Start($"{id}#{attempt}h{sends.Count}", attempt, current, inputs, deadline, scope.Token));
                }
            }
        }
        finally
        {
            foreach (var send in sends)
            {
                send.Abandon();
            }
        }
    }

    /// <summary>
    /// Nothing is deployed. When that is settled (no re-plan running) the request fails at once with the reason;
    /// while a plan is being made, the request waits for it, up to its attempt timeout.
    /// </summary>
    private async Task<Deployment> NextPlanAsync(CancellationToken ct)
    {
        using var scope = new TimeoutScope(_time, _options.AttemptTimeout, ct);
        while (_deployer.Current is null)
        {
            var switched = _switched.Task;
            if (!_loop.Replanning || scope.TimedOut)
            {
                throw new NoPlanFitsException($"no plan fits the cluster: {_deployer.Unavailable}");
            }
            await switched.WaitAsync(scope.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            ct.ThrowIfCancellationRequested();
        }
        return _deployer.Current!;
    }

    private InferResult Served(Send send, Delivery delivery, int attempt, long started)
    {
        var latencyMs = _time.GetElapsedTime(started).TotalMilliseconds;
        var energy = _loop.OnServed(send.Deployment, latencyMs, delivery.Timings);
        var plan = send.Deployment.Plan;
        _window.Add(latencyMs, energy, plan.Version);
        return new InferResult(delivery.Outputs, plan.Version, attempt) { LatencyMs = latencyMs, Plan = plan, Hops = delivery.Timings, EstimatedEnergyJ = energy };
    }

    /// <summary>Sends one copy of the request into <paramref name="deployment"/>'s route; its delivery (or the entry's refusal) completes <see cref="Send.Result"/>.</summary>
    private Send Start(string key, int attempt, Deployment deployment, IReadOnlyList<WireTensor> inputs, DateTimeOffset deadline, CancellationToken ct)
    {
        var send = new Send(key, deployment, this, ct);
        var entry = deployment.Route[0].Device;
        var request = new HopRequest(key, attempt, deployment.Plan.Version, 0, _deployer.ReplyAddress, deadline, inputs, [], null);
        var token = send.Token;
        _ = Task.Run(async () =>
        {
            try
            {
                await _health.Members[entry].Connection.ExecuteAsync(request, _options.AttemptTimeout, token);
            }
            catch (ClusterException ex)
            {
                send.Result.TrySetResult(new Delivery(key, [], $"{entry} refused the request: {ex.Message}", entry, []));
            }
            catch (Exception ex) when (token.IsCancellationRequested && ex is OperationCanceledException or Grpc.Core.RpcException)
            {
                // Abandoned: the attempt has its answer elsewhere, or gave up.
            }
        }, CancellationToken.None);
        return send;
    }

    private void ValidateInputs(IReadOnlyList<WireTensor> inputs)
    {
        foreach (var spec in _model.Inputs)
        {
            var tensor = inputs.FirstOrDefault(t => t.Name == spec.Name)
                ?? throw new ClusterException(FailureKind.BadRequest, $"input '{spec.Name}' is missing; the model takes [{string.Join(", ", _model.Inputs.Select(i => i.Name))}]");
            var fits = tensor.ElementType == spec.ElementType && (spec.Shape is null
                || (tensor.Shape.Length == spec.Shape.Count && spec.Shape.Zip(tensor.Shape).All(p => p.First is null || p.First == p.Second)));
            if (!fits || tensor.Compression != FeatureMapCompression.None)
            {
                throw new ClusterException(FailureKind.BadRequest,
                    $"input '{spec.Name}' is {tensor.ElementType}[{string.Join(',', tensor.Shape)}], the model wants {spec.ElementType}[{string.Join(',', (spec.Shape ?? []).Select(d => d?.ToString() ?? "?"))}]");
            }
        }
        if (inputs.Count != _model.Inputs.Count)
        {
            throw new ClusterException(FailureKind.BadRequest, $"got {inputs.Count} inputs, the model takes {_model.Inputs.Count}");
        }
    }

    private static readonly Task Never = new TaskCompletionSource().Task;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>One copy of a request on one deployment: registered for delivery, counted in flight, cancellable.</summary>
    private sealed class Send
    {
        private readonly RequestRouter _router;
        private readonly CancellationTokenSource _cancel;
        private int _abandoned;

        public Send(string key, Deployment deployment, RequestRouter router, CancellationToken ct)
        {
            Key = key;
            Deployment = deployment;
            _router = router;
            _cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deployment.Enter();
            router._pending[key] = Result;
        }

        public string Key { get; }

        public Deployment Deployment { get; }

        public TaskCompletionSource<Delivery> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationToken Token => _cancel.Token;

        /// <summary>Stops waiting for this copy; a delivery arriving later is dropped.</summary>
        public void Abandon()
        {
            if (Interlocked.Exchange(ref _abandoned, 1) == 1)
            {
                return;
            }
            _router._pending.TryRemove(Key, out _);
            Deployment.Leave();
            _cancel.Cancel();
            _cancel.Dispose();
        }
    }

    private sealed class AttemptFailedException(string message, string? device) : Exception(message)
    {
        public string? Device { get; } = device;
    }
}
