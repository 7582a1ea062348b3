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
    private Monitoring.PrometheusEndpoint? _prometheus;

    private AgentHost(WebApplication app, AgentCore core, string address)
    {
        _app = app;
        _core = core;
        Address = address;
    }

    public string Name => _core.Name;

    /// <summary>The bound address, <c>host:port</c> (port 0 resolved).</summary>
    public string Address { get; }

    public string CacheDirectory => _core.Store.Directory;

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
    public IReadOnlyList<Monitoring.LinkEstimate> LinkEstimates => _core.Links.All;

    public static async Task<AgentHost> StartAsync(AgentOptions options, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Name);
        AgentCore? core = null;
        var app = GrpcHost.Build(options.Listen, options.Token, options.MaxMessageBytes, options.ConfigureLogging,
            services => services.AddSingleton(sp => core = new AgentCore(options, sp.GetService<ILoggerFactory>()?.CreateLogger("agent." + options.Name) ?? NullLogger.Instance)),
            app =>
            {
                // Frozen: calls are accepted but never answered, as from a stopped process (SIGSTOP).
                app.Use(async (context, next) =>
                {
                    await core!.Unfrozen.WaitAsync(context.RequestAborted);
                    await next(context);
                });
                app.MapGrpcService<AgentService>();
            });
        core = app.Services.GetRequiredService<AgentCore>();
        await app.StartAsync(ct);
        var address = GrpcHost.BoundAddress(app);
        core.Logger.LogInformation("agent {Name} listening on {Address}, cache {Cache}", options.Name, address, core.Store.Directory);
        var host = new AgentHost(app, core, address);
        if (options.MetricsListen is { } metricsListen)
        {
            host._prometheus = Monitoring.PrometheusEndpoint.Start(metricsListen, registry => new Monitoring.MonitorMetrics(options.Name, registry).Follow(core.Monitor, core.Links));
            core.Logger.LogInformation("agent {Name}: Prometheus metrics on http://{Listen}/metrics", options.Name, metricsListen);
        }
        return host;
    }

    /// <summary>Runs until <paramref name="ct"/> is cancelled.</summary>
    public Task WaitAsync(CancellationToken ct) => _app.WaitForShutdownAsync(ct);

    /// <summary>
    /// Stops answering without closing connections, like a stopped process (tests: a device that
    /// hangs). <see cref="Thaw"/> resumes.
    /// </summary>
    internal void Freeze() => _core.Freeze();

    internal void Thaw() => _core.Thaw();

    /// <summary>Stops abruptly (tests: a device that dies).</summary>
    public async Task KillAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.Zero);
        await _app.StopAsync(cts.Token);
        await _core.AbortAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_prometheus is not null)
        {
            await _prometheus.DisposeAsync();
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(cts.Token);
        await _core.DisposeAsync();
        await _app.DisposeAsync();
    }
}
