using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Graph;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// The coordinator, wired from its parts: <see cref="AgentHealth"/> (membership), <see cref="PlanDeployer"/>
/// (one version counter), <see cref="AdaptationLoop"/> (the plan source and the one decision log) and
/// <see cref="RequestRouter"/> (attempts, retries, hedging). This class only connects them and reports Status.
/// </summary>
internal sealed class ClusterCoordinator : IAsyncDisposable
{
    private readonly ServedModel _model;
    private readonly CoordinatorOptions _options;
    private readonly GrpcChannels _channels;
    private readonly AgentHealth _health;
    private readonly PlanDeployer _deployer;
    private readonly AdaptationLoop _loop;
    private readonly RequestRouter _router;
    private readonly TimeSpan? _metricsInterval;
    private readonly bool _adaptive;
    private readonly bool _waitForJoins;
    private readonly ILogger _logger;
    private readonly ModelLayers? _layers;
    private readonly IReadOnlyList<LinkSpec> _configuredLinks;
    private volatile TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    public ClusterCoordinator(ServedModel model, IReadOnlyList<AgentEndpoint> agents, IPlanSource planSource, CoordinatorOptions options, TimeSpan? tick, ILogger logger)
    {
        if (agents.Select(a => a.Name).Distinct(StringComparer.Ordinal).Count() != agents.Count)
        {
            throw new BadInputException("agent names repeat in --agents; give each device a unique name");
        }
        foreach (var agent in agents)
        {
            DeviceName.Check(agent.Name);
            Endpoints.PeerUri(agent.Address);
        }
        if (options.SourceDevice is { } source && agents.Count > 0 && agents.All(a => a.Name != source))
        {
            throw new BadInputException($"source device '{source}' is not among the agents ({string.Join(", ", agents.Select(a => a.Name))})");
        }
        if (options.MinAgents < 1)
        {
            throw new BadInputException($"the coordinator must wait for at least one agent to join, not {options.MinAgents}");
        }
        // No agents given: serve waits for agents to join on their own.
        _waitForJoins = agents.Count == 0;
        _logger = logger;
        _model = model;
        _options = options;
        _adaptive = planSource.Adaptation is not null;
        _layers = model.Layers is { } layers ? layers with { CutBytes = model.Profile?.CutBytes ?? layers.CutBytes } : null;
        _configuredLinks = (planSource as AdaptivePlanSource)?.Options.Links ?? [];
        _metricsInterval = options.MetricsInterval ?? (_adaptive ? tick : null);
        _channels = new GrpcChannels(options.Token, options.MaxMessageBytes, options.Channels, options.Tls);
        _health = new AgentHealth(agents, _channels, options, logger);
        _deployer = new PlanDeployer(model, _health, options, logger);
        _loop = new AdaptationLoop(model, planSource, _health, _deployer, options, _adaptive ? tick : null, logger);
        _router = new RequestRouter(model, _deployer, _health, _loop, options, logger);
        _health.Changed += (_, _) => Signal();
        _health.Sampled += Signal;
        _deployer.Switched += _ => Signal();
        _loop.Log.Added += Signal;
        _router.Ended += Signal;
    }

    /// <summary>How long a joined agent may stay silent.</summary>
    public TimeSpan HeartbeatTimeout => _options.HeartbeatTimeout;

    /// <summary>Where agents deliver results.</summary>
    public string ReplyAddress
    {
        get => _deployer.ReplyAddress;
        set => _deployer.ReplyAddress = value;
    }

    public Plan? CurrentPlan => _deployer.Current?.Plan;

    public IReadOnlyList<PlanSwitch> Switches => _deployer.Switches;

    /// <summary>Probes the agents, deploys the first plan (fixed, or from the plan source) and starts health checks and adaptation.</summary>
    public async Task StartAsync(Plan? initial, CancellationToken ct)
    {
        if (_waitForJoins)
        {
            _logger.LogInformation("waiting for {Count} agent(s) to join at {Address}", _options.MinAgents, ReplyAddress);
            await _health.WaitForMembersAsync(_options.MinAgents, ct);
        }
        await _health.StartAsync(_metricsInterval, ct);
        if (_adaptive && _metricsInterval is not null)
        {
            // The first plan is chosen from start-up measurements.
            await _health.WaitForFirstSamplesAsync(_options.FirstSampleTimeout, ct);
        }
        await _loop.StartAsync(initial, ct);
    }

    public Task<InferResult> InferAsync(IReadOnlyList<WireTensor> inputs, CancellationToken ct) => _router.InferAsync(inputs, ct);

    public void Deliver(Delivery delivery) => _router.Deliver(delivery);

    /// <summary>
    /// An agent joins, sends its heartbeat, or leaves. A leaving agent is taken out of the plan before this
    /// returns (the plan in force no longer uses it, or <see cref="CoordinatorOptions.DeployTimeout"/> passed),
    /// so it can stop once its queued requests are done and nothing is lost.
    /// </summary>
    public async Task JoinAsync(JoinNotice notice, CancellationToken ct)
    {
        if (!notice.Leaving)
        {
            _health.Join(notice.Name, notice.Address);
            return;
        }
        if (!_health.Members.TryGetValue(notice.Name, out var member) || Endpoints.PeerUri(member.Address) != Endpoints.PeerUri(notice.Address))
        {
            return;
        }
        _health.Depart(notice.Name, "it left the fleet");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.DeployTimeout);
        try
        {
            await WaitForStatusAsync(_ => _deployer.Current?.Devices.Contains(notice.Name) != true, timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }
    }

    public Task<PlanSwitch> SetPlanAsync(Plan plan, FeatureMapCompression compression, string reason, CancellationToken ct) =>
        _loop.SetPlanAsync(plan, compression, reason, ct);

    /// <summary>Completes with the first Status (checked now and after every change: a switch, a device up or down, a sample) that satisfies <paramref name="condition"/>.</summary>
    public async Task<CoordinatorStatus> WaitForStatusAsync(Func<CoordinatorStatus, bool> condition, CancellationToken ct)
    {
        while (true)
        {
            var changed = _changed.Task;
            var status = Status();
            if (condition(status))
            {
                return status;
            }
            await changed.WaitAsync(ct);
        }
    }

    public CoordinatorStatus Status()
    {
        var current = _deployer.Current;
        var members = _health.Ordered;
        var byAddress = members.GroupBy(a => a.Address, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Name, StringComparer.Ordinal);
        return new CoordinatorStatus(
            current?.Plan,
            current?.Compression ?? _options.Compression,
            [.. members.Select(a => new AgentState(a.Name, a.Address, a.Alive))],
            _router.Completed,
            _router.Failed,
            _router.Retried,
            _router.InFlight,
            Switches,
            _deployer.Unavailable,
            _model.Name,
            _model.Inputs,
            _model.OutputNames)
        {
            Adaptation = _loop.Log.Status(),
            Devices = [.. members.Select(m => DeviceViewOf(m, byAddress))],
            Degraded = current?.Degraded,
            SourceDevice = _health.SourceDevice,
            RecentServed = _router.RecentServed(),
            Layers = _layers,
            ConfiguredLinks = _configuredLinks,
        };
    }

    private static DeviceView DeviceViewOf(AgentMember agent, Dictionary<string, string> byAddress)
    {
        var sample = agent.Latest;
        return new DeviceView(agent.Name, agent.Alive, sample?.Time, sample?.CpuUtilisation ?? double.NaN,
            sample is null ? double.NaN : PlanningStateBuilder.CpuAvailability(sample),
            sample?.MemoryAvailableBytes ?? Interlocked.Read(ref agent.MemoryAvailableBytes), sample?.PowerW ?? double.NaN, sample?.PowerEstimated ?? true,
            sample?.Queued ?? 0, sample?.Executed ?? 0,
            [.. (sample?.Links ?? []).Select(l => new LinkView(byAddress.GetValueOrDefault(l.Peer, l.Peer), l.RttMs, l.BandwidthBytesPerSecond))])
        {
            TemperatureC = sample?.TemperatureC ?? double.NaN,
            MemoryLimitBytes = sample?.MemoryLimitBytes ?? 0,
            Provider = sample?.Provider,
        };
    }

    private void Signal() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public async ValueTask DisposeAsync()
    {
        // The DI container disposes this singleton too; the second call does nothing.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _router.Shutdown();
        await _loop.DisposeAsync();
        await _health.DisposeAsync();
        _channels.Dispose();
    }
}
