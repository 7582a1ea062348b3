using System.Net;
using System.Net.Sockets;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed.Backends;

/// <summary>
/// The namespace testbed behind the seam (as root): a <see cref="RunningTestbed"/> whose devices are
/// <c>edgesplit agent</c> processes, each in its network namespace and cgroups, links shaped by tc.
/// Scenario loads are processes inside the device's namespace and cgroups (memory is taken for real).
/// Also drives a testbed another process brought up (<c>testbed play</c>), and a loopback one.
/// </summary>
public sealed class NamespaceBackend : ITestbedBackend
{
    private readonly RunningTestbed testbed;
    private readonly LoadCommand load;
    private readonly bool owned;
    private readonly Action<string> log;
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly List<IDisposable> loads = [];
    private readonly Dictionary<string, int> memoryTakenMb = new(StringComparer.Ordinal);

    private NamespaceBackend(RunningTestbed testbed, TestbedEmulation emulation, LoadCommand load, bool owned, Action<string> log)
    {
        this.testbed = testbed;
        Emulation = emulation;
        this.load = load;
        this.owned = owned;
        this.log = log;
    }

    public BackendKind Kind => BackendKind.Namespaces;

    public TestbedEmulation Emulation { get; }

    public RunningTestbed Testbed => testbed;

    public string Label => testbed.State.Mode == TestbedMode.Namespaces
        ? $"namespace testbed '{testbed.State.Name}': each device an 'edgesplit agent' process in its own network namespace and cgroups (memory limit, CPU cap), links shaped by tc tbf; each agent stretches its compute's CPU time to its unit's published speed and adds its links' one-way latency; {Emulation.Dilation.Label}"
        : $"loopback testbed '{testbed.State.Name}' (no root): each device an 'edgesplit agent' process on 127.0.0.1 that paces, delays and stretches its own work; {Emulation.Dilation.Label}";

    public IReadOnlyList<AgentEndpoint> Agents => testbed.State.AgentEndpoints();

    /// <summary>
    /// Brings the testbed up with one agent process per device, waits until each listens, then limits it.
    /// The testbed is named after the spec and this process, so it never meets one a user brought up.
    /// </summary>
    public static NamespaceBackend Up(TestbedSpec spec, string specFile, TestbedEmulation emulation, string? stateRoot, Action<string> log)
    {
        var name = $"{spec.Name[..Math.Min(spec.Name.Length, 14)]}-{Environment.ProcessId % 100_000}";
        var options = new TestbedOptions
        {
            Emulation = emulation,
            Command = EdgeSplitExecutable.Agent,
            AwaitListening = true,
            Log = log,
        };
        var testbed = RunningTestbed.Up(spec with { Name = name }, specFile, stateRoot is null ? options : options with { StateRoot = stateRoot });
        return new NamespaceBackend(testbed, emulation, EdgeSplitExecutable.Load, owned: true, log);
    }

    /// <summary>Drives a testbed that is already up (its agents are whatever it runs); disposing leaves it up.</summary>
    public static NamespaceBackend Attach(RunningTestbed testbed, TestbedEmulation emulation, LoadCommand load, Action<string> log) =>
        new(testbed, emulation, load, owned: false, log);

    public CoordinatorOptions ConfigureCoordinator(CoordinatorOptions options)
    {
        var state = testbed.State;
        if (state.Mode != TestbedMode.Namespaces)
        {
            return Emulation.Dilation.Apply(options with { PeerAddresses = state.PeerAddresses() });
        }
        // Agents live in namespaces: listen on every address and tell them the one they can reach.
        var port = FreePort();
        return Emulation.Dilation.Apply(options with
        {
            Listen = $"0.0.0.0:{port}",
            AdvertiseAddress = $"{state.CoordinatorAddress}:{port}",
            PeerAddresses = state.PeerAddresses(),
        });
    }

    public async Task ResetAsync(CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            EndLoads();
            foreach (var link in Emulation.Spec.Links)
            {
                var now = testbed.State.Link(link.A, link.B)!;
                if (now.BandwidthMbps != link.BandwidthMbps || now.LatencyMs != link.LatencyMs)
                {
                    testbed.SetLink(link.A, link.B, link.BandwidthMbps, link.LatencyMs);
                }
            }
            // Fresh agents: no partition, plan version or learned link left from the run before.
            foreach (var device in testbed.State.Devices)
            {
                testbed.Kill(device.Name);
                testbed.Revive(device.Name);
            }
            foreach (var device in testbed.State.Devices.Where(d => !testbed.WaitUntilListening(d.Name, TimeSpan.FromSeconds(60))))
            {
                testbed.ThrowIfADeviceDied();
                throw new Linux.TestbedException($"device {device.Name}: its agent did not listen within 60 s of a restart");
            }
        }
        finally
        {
            gate.Release();
        }
    }

    public Task SetLinkAsync(string a, string b, double? bandwidthMbps, double? latencyMs, CancellationToken ct) =>
        Locked(() => testbed.SetLink(a, b, bandwidthMbps, latencyMs), ct);

    public async Task<IDisposable> TakeCpuAsync(string device, int jobs, TimeSpan atMost, CancellationToken ct)
    {
        IDisposable? handle = null;
        await Locked(() => handle = testbed.StartCpuLoad(device, jobs, atMost, load), ct);
        return Track(handle!);
    }

    public async Task<IDisposable> TakeMemoryAsync(string device, int megabytes, TimeSpan atMost, CancellationToken ct)
    {
        IDisposable? handle = null;
        await Locked(() => handle = testbed.StartMemoryLoad(device, megabytes, atMost, load), ct);
        lock (memoryTakenMb)
        {
            memoryTakenMb[device] = memoryTakenMb.GetValueOrDefault(device) + megabytes;
        }
        var inner = handle!;
        return Track(new DisposeAction(() =>
        {
            inner.Dispose();
            lock (memoryTakenMb)
            {
                memoryTakenMb[device] -= megabytes;
            }
        }));
    }

    public Task KillAsync(string device, CancellationToken ct) => Locked(() => testbed.Kill(device), ct);

    /// <summary>Starts the agent again; it listens a moment later, as a rebooted board's agent would.</summary>
    public Task ReviveAsync(string device, CancellationToken ct) => Locked(() => testbed.Revive(device), ct);

    public TestbedSample Sample()
    {
        var state = testbed.State;
        lock (memoryTakenMb)
        {
            return new TestbedSample(
                [.. state.Devices.Select(d => new DeviceConditions(d.Name, testbed.IsRunning(d.Name), d.CompetingJobs / (double)(d.Parallelism + d.CompetingJobs), memoryTakenMb.GetValueOrDefault(d.Name)))],
                [.. state.Links.Select(l => new LinkConditions(l.A, l.B, l.BandwidthMbps, l.LatencyMs))]);
        }
    }

    public ValueTask DisposeAsync()
    {
        EndLoads();
        if (owned)
        {
            testbed.Down();
        }
        gate.Dispose();
        return ValueTask.CompletedTask;
    }

    private IDisposable Track(IDisposable handle)
    {
        lock (loads)
        {
            loads.Add(handle);
        }
        return handle;
    }

    private void EndLoads()
    {
        List<IDisposable> ending;
        lock (loads)
        {
            ending = [.. loads];
            loads.Clear();
        }
        ending.ForEach(l => l.Dispose());
    }

    private async Task Locked(Action action, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            action();
        }
        finally
        {
            gate.Release();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Any, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
