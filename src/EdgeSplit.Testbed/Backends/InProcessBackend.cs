using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Monitoring;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Testbed.Backends;

/// <summary>
/// The in-process emulation behind the seam (no root needed): one agent per device in this process on
/// loopback. Each agent stretches its compute by its device's slowdown (and by the share a scenario's
/// load takes), and delays and paces what it sends by its link's latency and bandwidth, as its links
/// file says. Cruder than namespaces: no kernel queueing, no CPU or memory isolation between devices;
/// memory taken is only reported to planners, not enforced.
/// </summary>
public sealed class InProcessBackend : ITestbedBackend
{
    private readonly object gate = new();
    private readonly DirectoryInfo work;
    private readonly string reason;
    private readonly Dictionary<string, AgentHost> agents = new(StringComparer.Ordinal);
    private readonly List<AgentHost> everyAgent = [];
    private readonly Dictionary<string, string> addresses = new(StringComparer.Ordinal);
    private readonly Dictionary<(string A, string B), (double Mbps, double LatencyMs)> links = [];
    private readonly Dictionary<string, int> competingJobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> memoryTakenMb = new(StringComparer.Ordinal);
    private readonly HashSet<string> dead = new(StringComparer.Ordinal);

    private InProcessBackend(TestbedEmulation emulation, string reason)
    {
        Emulation = emulation;
        this.reason = reason;
        work = Directory.CreateTempSubdirectory("edgesplit-inprocess-");
    }

    public BackendKind Kind => BackendKind.InProcess;

    public TestbedEmulation Emulation { get; }

    public string Label =>
        $"in-process emulation ({reason}): agents in this process on loopback, each stretching its compute and delaying and pacing its sends itself; " +
        $"no kernel shaping, no CPU or memory isolation between devices; {Emulation.Dilation.Label}";

    public IReadOnlyList<AgentEndpoint> Agents
    {
        get
        {
            lock (gate)
            {
                return [.. Emulation.Spec.Devices.Select(d => new AgentEndpoint(d.Name, addresses[d.Name]))];
            }
        }
    }

    /// <summary>Starts one agent per device; <paramref name="reason"/> says why this backend and not namespaces.</summary>
    public static async Task<InProcessBackend> StartAsync(TestbedEmulation emulation, string reason, CancellationToken ct)
    {
        var backend = new InProcessBackend(emulation, reason);
        try
        {
            await backend.ResetAsync(ct);
            return backend;
        }
        catch
        {
            await backend.DisposeAsync();
            throw;
        }
    }

    public CoordinatorOptions ConfigureCoordinator(CoordinatorOptions options) => Emulation.Dilation.Apply(options);

    public async Task ResetAsync(CancellationToken ct)
    {
        await StopAgentsAsync();
        lock (gate)
        {
            links.Clear();
            foreach (var l in Emulation.Spec.Links)
            {
                links[Key(l.A, l.B)] = (l.BandwidthMbps, l.LatencyMs);
            }
            competingJobs.Clear();
            memoryTakenMb.Clear();
            dead.Clear();
            addresses.Clear();
        }
        foreach (var device in Emulation.Spec.Devices)
        {
            WriteLinksFile(device.Name);
            await StartAgentAsync(device.Name, "127.0.0.1:0", ct);
        }
    }

    public Task SetLinkAsync(string a, string b, double? bandwidthMbps, double? latencyMs, CancellationToken ct)
    {
        lock (gate)
        {
            var key = Key(a, b);
            if (!links.TryGetValue(key, out var now))
            {
                throw new Graph.BadInputException($"testbed '{Emulation.Spec.Name}' has no link between '{a}' and '{b}'");
            }
            links[key] = (bandwidthMbps ?? now.Mbps, latencyMs ?? now.LatencyMs);
        }
        WriteLinksFile(a);
        WriteLinksFile(b);
        return Task.CompletedTask;
    }

    public Task<IDisposable> TakeCpuAsync(string device, int jobs, TimeSpan atMost, CancellationToken ct)
    {
        ChangeJobs(device, jobs);
        return Task.FromResult<IDisposable>(new DisposeAction(() => ChangeJobs(device, -jobs)));
    }

    public Task<IDisposable> TakeMemoryAsync(string device, int megabytes, TimeSpan atMost, CancellationToken ct)
    {
        lock (gate)
        {
            memoryTakenMb[device] = memoryTakenMb.GetValueOrDefault(device) + megabytes;
        }
        return Task.FromResult<IDisposable>(new DisposeAction(() =>
        {
            lock (gate)
            {
                memoryTakenMb[device] -= megabytes;
            }
        }));
    }

    public async Task KillAsync(string device, CancellationToken ct)
    {
        AgentHost agent;
        lock (gate)
        {
            agent = agents[device];
            dead.Add(device);
        }
        await Quietly(agent.KillAsync);
    }

    public async Task ReviveAsync(string device, CancellationToken ct)
    {
        string address;
        lock (gate)
        {
            address = addresses[device];
            dead.Remove(device);
        }
        await StartAgentAsync(device, address, ct);
    }

    public TestbedSample Sample()
    {
        lock (gate)
        {
            return new TestbedSample(
                [.. Emulation.Spec.Devices.Select(d => new DeviceConditions(d.Name, !dead.Contains(d.Name), 1 - Availability(d.Name), memoryTakenMb.GetValueOrDefault(d.Name)))],
                [.. Emulation.Spec.Links.Select(l =>
                {
                    var (mbps, latencyMs) = links[Key(l.A, l.B)];
                    return new LinkConditions(l.A, l.B, mbps, latencyMs);
                })]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAgentsAsync();
        try
        {
            work.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A cache file still held open: the OS cleans the temp folder; nothing depends on it.
        }
    }

    private async Task StartAgentAsync(string device, string listen, CancellationToken ct)
    {
        var spec = Emulation.Spec.Device(device);
        var agent = await AgentHost.StartAsync(Emulation.Dilation.Apply(new AgentOptions(device, listen)
        {
            CacheDirectory = Path.Combine(work.FullName, "cache", device),
            Emulation = EmulatedLinks.Open(LinksFile(device)),
            Monitoring = new ResourceMonitorOptions { PowerModel = spec.PowerModel },
            ConfigureLogging = logging => logging.ClearProviders(),
        }), ct);
        lock (gate)
        {
            agents[device] = agent;
            everyAgent.Add(agent);
            addresses[device] = agent.Address;
        }
    }

    private async Task StopAgentsAsync()
    {
        List<AgentHost> stopping;
        lock (gate)
        {
            stopping = [.. everyAgent];
            everyAgent.Clear();
            agents.Clear();
        }
        foreach (var agent in stopping)
        {
            await Quietly(() => agent.DisposeAsync().AsTask());
        }
    }

    private void ChangeJobs(string device, int delta)
    {
        lock (gate)
        {
            competingJobs[device] = Math.Max(0, competingJobs.GetValueOrDefault(device) + delta);
        }
        WriteLinksFile(device);
    }

    private double Availability(string device) => Emulation.Spec.Device(device).Unit.AvailabilityUnder(competingJobs.GetValueOrDefault(device));

    private string LinksFile(string device) => Path.Combine(work.FullName, $"{device}.links.json");

    /// <summary>The device's slowdown over the share other jobs leave it, its links' latency and pacing: all dilated.</summary>
    private void WriteLinksFile(string device)
    {
        EmulatedLinksFile file;
        lock (gate)
        {
            var dilation = Emulation.Dilation;
            var availability = Availability(device);
            var deviceLinks = Emulation.Spec.Links.Where(l => l.A == device || l.B == device).Select(l =>
            {
                var (mbps, latencyMs) = links[Key(l.A, l.B)];
                return new EmulatedLink(l.A == device ? l.B : l.A, [], dilation.StretchMs(latencyMs), dilation.Slow(mbps), ShapedByKernel: false);
            }).ToList();
            file = new EmulatedLinksFile(device, Emulation.Device(device).Slowdown / availability, deviceLinks) { CpuLoad = 1 - availability, TimeDilation = dilation.Factor };
        }
        EmulatedLinks.Write(LinksFile(device), file);
    }

    private static (string, string) Key(string a, string b) => string.CompareOrdinal(a, b) <= 0 ? (a, b) : (b, a);

    private static async Task Quietly(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException or ObjectDisposedException or Grpc.Core.RpcException)
        {
            // Teardown of something already stopped (a killed agent): nothing left to release.
        }
    }
}
