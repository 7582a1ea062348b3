using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Cluster.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeSplit.Cluster.Agent;

/// <summary>
/// An agent running in this process on Kestrel (the CLI's <c>edgesplit agent</c>, tests and the
/// testbed all start it this way). <see cref="Address"/> is the bound <c>host:port</c>.
/// </summary>
public sealed class AgentHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly AgentCore _core;
    private PrometheusEndpoint? _prometheus;
    private FleetMembership? _membership;

    private AgentHost(WebApplication app, AgentCore core, string address)
    {
        _app = app;
        _core = core;
        Address = address;
    }

    public string Name => _core.Name;

    /// <summary>The address it is reached at: the advertised one, else the bound <c>host:port</c> (port 0 resolved).</summary>
    public string Address { get; }

    /// <summary>The bound address of the token-free grpc.health.v1 listener, when one was asked for.</summary>
    public string? HealthAddress { get; private init; }

    /// <summary>The bound address of the Prometheus endpoint, when one was asked for.</summary>
    public string? MetricsAddress => _prometheus?.Address;

    public string CacheDirectory => _core.Store.Directory;

    /// <summary>The execution provider the agent's partitions really run on (the requested one, or cpu after a fallback).</summary>
    public Runtime.Providers.ProviderUse Provider => _core.Store.Provider;

    /// <summary>The host's services (for tests that look at what Kestrel was given).</summary>
    internal IServiceProvider Services => _app.Services;

    /// <summary>Stage executions so far (relays not counted).</summary>
    public long Executed => _core.Executed;

    /// <summary>Total time spent in ORT runs so far.</summary>
    public TimeSpan ComputeTime => _core.ComputeTime;

    public IReadOnlyCollection<long> DeployedVersions => _core.DeployedVersions;

    /// <summary>Emulated CPU load reported in metrics instead of the measured utilisation (0..1); null = measured.</summary>
    public double? CpuUtilisationOverride
    {
        get => _core.CpuUtilisationOverride;
        set => _core.CpuUtilisationOverride = value;
    }

    /// <summary>What this agent has learned about its links, by peer address.</summary>
    public IReadOnlyList<LinkEstimate> LinkEstimates => _core.Links.All;

    public static async Task<AgentHost> StartAsync(AgentOptions options, CancellationToken ct = default)
    {
        DeviceName.Check(options.Name);
        var health = options.HealthListen is { } healthListen ? new HealthListener(healthListen) : null;
        var app = GrpcHost.Build(options.Listen, options.Token, options.MaxMessageBytes, options.ConfigureLogging,
            services => services.AddSingleton(sp => new AgentCore(options, sp.GetService<ILoggerFactory>()?.CreateLogger("agent." + options.Name) ?? NullLogger.Instance)),
            app => app.MapGrpcService<AgentService>(), health: health, tls: options.Tls);
        AgentCore core;
        try
        {
            // Creating the core checks the execution provider: a missing one fails here, before anything listens.
            core = app.Services.GetRequiredService<AgentCore>();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        await app.StartAsync(ct);
        var address = GrpcHost.BoundAddress(app);
        core.Logger.LogInformation("agent {Name} listening on {Address}, cache {Cache}, partitions on {Provider}", options.Name, address, core.Store.Directory, core.Store.Provider);
        if (core.Store.Provider.FellBack)
        {
            core.Logger.LogWarning("agent {Name} runs on {Used}, not {Requested}: {Reason}", options.Name, core.Store.Provider.Used, core.Store.Provider.Requested, core.Store.Provider.FallbackReason);
        }
        if (string.IsNullOrEmpty(options.Token))
        {
            core.Logger.LogWarning("agent {Name} runs without a token: anyone who reaches {Address} can load and run models on it; give one with --token-file or EDGESPLIT_TOKEN", options.Name, address);
        }
        var host = new AgentHost(app, core, options.AdvertiseAddress ?? address) { HealthAddress = health?.Address };
        if (options.Join is { } coordinator)
        {
            host._membership = new FleetMembership(core, coordinator, host.Address);
            host._membership.Start();
        }
        if (options.MetricsListen is { } metricsListen)
        {
            host._prometheus = await PrometheusEndpoint.StartAsync(metricsListen, options.Token, registry => new MonitorMetrics(options.Name, registry).Follow(core.Monitor, core.Links, () => core.Store.Provider.Used), ct, options.Tls);
            core.Logger.LogInformation("agent {Name}: Prometheus metrics on {Scheme}://{Listen}/metrics", options.Name, options.Tls is null ? "http" : "https", host._prometheus.Address);
        }
        return host;
    }

    /// <summary>Runs until <paramref name="ct"/> is cancelled.</summary>
    public Task WaitAsync(CancellationToken ct) => _app.WaitForShutdownAsync(ct);

    /// <summary>Stops abruptly, dropping queued work (a device that dies: the evaluation's scenarios, tests).</summary>
    public async Task KillAsync()
    {
        if (_membership is not null)
        {
            await _membership.StopAsync();
        }
        using var cts = new CancellationTokenSource(TimeSpan.Zero);
        await _app.StopAsync(cts.Token);
        await _core.AbortAsync();
    }

    /// <summary>Whether the agent's latest join or heartbeat was accepted (false when it was not asked to join).</summary>
    public bool Joined => _membership?.Joined ?? false;

    public async ValueTask DisposeAsync()
    {
        if (_membership is not null)
        {
            // A joined agent leaves first: the coordinator moves the plan off it, then it drains and stops.
            await _membership.LeaveAsync();
            await _membership.DisposeAsync();
        }
        if (_prometheus is not null)
        {
            await _prometheus.DisposeAsync();
        }
        // Wall time on purpose: a fake clock in a test would otherwise hold shutdown until someone advanced it.
        using var cts = new CancellationTokenSource(_core.Options.ShutdownTimeout);
        await _app.StopAsync(cts.Token);
        await _core.DisposeAsync();
        await _app.DisposeAsync();
    }
}
