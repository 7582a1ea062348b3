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

    private AgentHost(WebApplication app, AgentCore core, string address)
    {
        _app = app;
        _core = core;
        Address = address;
    }

    public string Name => _core.Name;

    /// <summary>The bound address, <c>host:port</c> (port 0 resolved).</summary>
    public string Address { get; }

    /// <summary>The bound address of the Prometheus endpoint, when one was asked for.</summary>
    public string? MetricsAddress => _prometheus?.Address;

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
    public IReadOnlyList<LinkEstimate> LinkEstimates => _core.Links.All;

    public static async Task<AgentHost> StartAsync(AgentOptions options, CancellationToken ct = default)
    {
        DeviceName.Check(options.Name);
        var app = GrpcHost.Build(options.Listen, options.Token, options.MaxMessageBytes, options.ConfigureLogging,
            services => services.AddSingleton(sp => new AgentCore(options, sp.GetService<ILoggerFactory>()?.CreateLogger("agent." + options.Name) ?? NullLogger.Instance)),
            app => app.MapGrpcService<AgentService>());
        var core = app.Services.GetRequiredService<AgentCore>();
        await app.StartAsync(ct);
        var address = GrpcHost.BoundAddress(app);
        core.Logger.LogInformation("agent {Name} listening on {Address}, cache {Cache}", options.Name, address, core.Store.Directory);
        if (string.IsNullOrEmpty(options.Token))
        {
            core.Logger.LogWarning("agent {Name} runs without a token: anyone who reaches {Address} can load and run models on it; give one with --token-file or EDGESPLIT_TOKEN", options.Name, address);
        }
        var host = new AgentHost(app, core, address);
        if (options.MetricsListen is { } metricsListen)
        {
            host._prometheus = await PrometheusEndpoint.StartAsync(metricsListen, options.Token, registry => new MonitorMetrics(options.Name, registry).Follow(core.Monitor, core.Links), ct);
            core.Logger.LogInformation("agent {Name}: Prometheus metrics on http://{Listen}/metrics", options.Name, host._prometheus.Address);
        }
        return host;
    }

    /// <summary>Runs until <paramref name="ct"/> is cancelled.</summary>
    public Task WaitAsync(CancellationToken ct) => _app.WaitForShutdownAsync(ct);

    /// <summary>Stops abruptly, dropping queued work (a device that dies: the evaluation's scenarios, tests).</summary>
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
        // Wall time on purpose: a fake clock in a test would otherwise hold shutdown until someone advanced it.
        using var cts = new CancellationTokenSource(_core.Options.ShutdownTimeout);
        await _app.StopAsync(cts.Token);
        await _core.DisposeAsync();
        await _app.DisposeAsync();
    }
}
