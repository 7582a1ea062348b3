using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Dashboard;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Graph;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// The coordinator running in this process on Kestrel (<c>edgesplit serve</c>, tests, the testbed):
/// deploys the first plan on the agents, then serves Infer, plan switches and Status.
/// </summary>
public sealed class CoordinatorHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ClusterCoordinator _coordinator;
    private AdaptivePlanSource? _ownedSource;
    private PrometheusEndpoint? _prometheus;
    private DashboardListener? _dashboard;
    private readonly List<IDisposable> _following = [];

    private CoordinatorHost(WebApplication app, ClusterCoordinator coordinator, string address)
    {
        _app = app;
        _coordinator = coordinator;
        Address = address;
    }

    /// <summary>The bound address, <c>host:port</c>.</summary>
    public string Address { get; }

    /// <summary>The bound address of the token-free grpc.health.v1 listener, when one was asked for.</summary>
    public string? HealthAddress { get; private init; }

    /// <summary>The bound address of the Prometheus endpoint, when one was asked for.</summary>
    public string? MetricsAddress => _prometheus?.Address;

    /// <summary>The bound address of the dashboard's listener, when one was asked for (<see cref="CoordinatorOptions.DashboardListen"/>).</summary>
    public string? DashboardAddress => _dashboard?.Address;

    public Plan? CurrentPlan => _coordinator.CurrentPlan;

    public IReadOnlyList<PlanSwitch> Switches => _coordinator.Switches;

    /// <summary>The adaptive plan source when started with <see cref="AdaptiveOptions"/> (its cost model, planner, last state).</summary>
    public AdaptivePlanSource? Adaptive => _ownedSource;

    /// <summary>The adaptation loop's counters and recent decisions; null without an adaptive plan source.</summary>
    public AdaptationStatus? Adaptation => _coordinator.Status().Adaptation;

    /// <summary>
    /// Starts an adaptive coordinator: <paramref name="model"/>'s <see cref="ServedModel.Profile"/> (or,
    /// lacking one, its node costs) feeds the planner named in <paramref name="adaptive"/>; the first plan
    /// comes from it, then every metrics tick may switch plans. The rl policy is saved on dispose.
    /// </summary>
    public static async Task<CoordinatorHost> StartAsync(
        ServedModel model,
        IReadOnlyList<AgentEndpoint> agents,
        AdaptiveOptions adaptive,
        CoordinatorOptions options,
        CancellationToken ct = default)
    {
        var profile = model.Profile ?? ModelProfiling.FromNodeCosts(model.NodeCostsMs ?? [], model.NodeCount);
        if (profile.NodeCount != model.NodeCount)
        {
            throw new BadInputException($"the profile has {profile.NodeCount} nodes, the model {model.NodeCount}; measure it from the served model");
        }
        var source = AdaptivePlanSource.Create(adaptive, profile);
        try
        {
            var host = await StartAsync(model, agents, source, options with { MetricsInterval = options.MetricsInterval ?? adaptive.MetricsInterval }, null, adaptive.MetricsInterval, ct);
            host._ownedSource = source;
            return host;
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts listening, then deploys <paramref name="initialPlan"/> (or asks <paramref name="planSource"/>)
    /// and warms it before returning. An adaptive source gets a tick every <see cref="CoordinatorOptions.MetricsInterval"/>.
    /// </summary>
    public static Task<CoordinatorHost> StartAsync(
        ServedModel model,
        IReadOnlyList<AgentEndpoint> agents,
        IPlanSource planSource,
        CoordinatorOptions options,
        Plan? initialPlan = null,
        CancellationToken ct = default) =>
        StartAsync(model, agents, planSource, options, initialPlan, options.MetricsInterval, ct);

    private static async Task<CoordinatorHost> StartAsync(ServedModel model, IReadOnlyList<AgentEndpoint> agents, IPlanSource planSource, CoordinatorOptions options,
        Plan? initialPlan, TimeSpan? tick, CancellationToken ct)
    {
        if (options.AdvertiseAddress is { } advertise)
        {
            // Checked here, where it is given: a bad one would only show as agents failing to deliver.
            Endpoints.PeerUri(advertise);
        }
        var dashboard = options.DashboardListen is { } dashboardListen ? new DashboardListener(dashboardListen, options.Token, options.TimeProvider, options.Tls) : null;
        var health = options.HealthListen is { } healthListen ? new HealthListener(healthListen) : null;
        var app = GrpcHost.Build(options.Listen, options.Token, options.MaxMessageBytes, options.ConfigureLogging,
            services => services.AddSingleton(sp => new ClusterCoordinator(model, agents, planSource, options, tick,
                sp.GetService<ILoggerFactory>()?.CreateLogger("coordinator") ?? NullLogger.Instance)),
            app => app.MapGrpcService<CoordinatorService>(),
            dashboard is null ? null : dashboard.AddListener,
            dashboard is null ? null : dashboard.MapBranch,
            health,
            options.Tls);
        var coordinator = app.Services.GetRequiredService<ClusterCoordinator>();
        await app.StartAsync(ct);
        // Dashboards show the start too: devices coming up, the first plan being deployed.
        var following = new[] { dashboard?.Feed, options.Dashboard }.OfType<DashboardFeed>().Select(f => f.Follow(coordinator.Status, options.TimeProvider)).ToList();
        try
        {
            var address = GrpcHost.BoundAddress(app);
            coordinator.ReplyAddress = options.AdvertiseAddress ?? address;
            options.Listening?.Invoke(address);
            if (string.IsNullOrEmpty(options.Token))
            {
                app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("coordinator").LogWarning(
                    "the coordinator at {Address} runs without a token: anyone who reaches it can send requests and switch plans; give one with --token-file or EDGESPLIT_TOKEN", address);
            }
            await coordinator.StartAsync(initialPlan, ct);
            var host = new CoordinatorHost(app, coordinator, address) { _dashboard = dashboard, HealthAddress = health?.Address };
            host._following.AddRange(following);
            if (options.MetricsListen is { } metricsListen)
            {
                host._prometheus = await PrometheusEndpoint.StartAsync(metricsListen, options.Token, registry => CoordinatorMetrics.Register(registry, coordinator.Status), ct, options.Tls);
            }
            return host;
        }
        catch
        {
            following.ForEach(f => f.Dispose());
            await coordinator.DisposeAsync();
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs one inference in-process (same path as the Infer RPC).</summary>
    public Task<InferResult> InferAsync(IReadOnlyList<WireTensor> inputs, CancellationToken ct = default) => _coordinator.InferAsync(inputs, ct);

    /// <summary>Deploys, warms and switches to <paramref name="plan"/> (given a fresh version).</summary>
    public Task<PlanSwitch> SetPlanAsync(Plan plan, FeatureMapCompression compression = FeatureMapCompression.None, string reason = "SetPlan", CancellationToken ct = default) =>
        _coordinator.SetPlanAsync(plan, compression, reason, ct);

    public CoordinatorStatus Status() => _coordinator.Status();

    /// <summary>
    /// Completes with the first Status that satisfies <paramref name="condition"/>, checked now and after every
    /// change (a switch, a device up or down, a metrics sample, a decision): waits for an event, never polls.
    /// </summary>
    public Task<CoordinatorStatus> WaitForStatusAsync(Func<CoordinatorStatus, bool> condition, CancellationToken ct = default) =>
        _coordinator.WaitForStatusAsync(condition, ct);

    public Task WaitAsync(CancellationToken ct) => _app.WaitForShutdownAsync(ct);

    public async ValueTask DisposeAsync()
    {
        _following.ForEach(f => f.Dispose());
        if (_prometheus is not null)
        {
            await _prometheus.DisposeAsync();
        }
        await _coordinator.DisposeAsync();
        // Wall time on purpose: a fake clock in a test would otherwise hold shutdown until someone advanced it.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
        _ownedSource?.Dispose();
    }
}
