using EdgeSplit.Cluster.Coordinator;

namespace EdgeSplit.Testbed.Backends;

/// <summary>Which testbed runs the devices.</summary>
public enum BackendKind
{
    /// <summary>As root: each device an <c>edgesplit agent</c> process in its network namespace and cgroups, links shaped by tc.</summary>
    Namespaces,

    /// <summary>Without root: agents in this process on loopback, emulating links, speed and load themselves.</summary>
    InProcess,
}

/// <summary>A device's conditions as the backend applies them now (configured units, before dilation).</summary>
public sealed record DeviceConditions(string Name, bool Alive, double CpuLoad, int MemoryTakenMb);

/// <summary>A link's conditions as the backend applies them now (configured units, before dilation; latency one way).</summary>
public sealed record LinkConditions(string A, string B, double BandwidthMbps, double LatencyMs);

/// <summary>What <see cref="ITestbedBackend.Sample"/> returns: every device and link now.</summary>
public sealed record TestbedSample(IReadOnlyList<DeviceConditions> Devices, IReadOnlyList<LinkConditions> Links);

/// <summary>
/// The seam one scenario player drives two testbeds through: change a link, give another job a share of a
/// device, take memory, kill and revive a device, and read back what is in force. A backend also says
/// where its agents are and how a coordinator on this host reaches them. All figures are the emulated
/// devices' own (undilated); the backend applies <see cref="TestbedEmulation.Dilation"/> itself.
/// </summary>
public interface ITestbedBackend : IAsyncDisposable
{
    BackendKind Kind { get; }

    /// <summary>One line for the console and the report's first lines: which testbed ran and how it emulates.</summary>
    string Label { get; }

    /// <summary>Device speeds and the dilation factor.</summary>
    TestbedEmulation Emulation { get; }

    /// <summary>Every device's agent, at the address a coordinator on this host reaches it on.</summary>
    IReadOnlyList<AgentEndpoint> Agents { get; }

    /// <summary>
    /// Coordinator options that reach these agents: where to listen and what address to advertise, the
    /// per-pair peer addresses (each pair's emulated link), and the timers stretched by the dilation.
    /// </summary>
    CoordinatorOptions ConfigureCoordinator(CoordinatorOptions options);

    /// <summary>Fresh agents on every device and the testbed's nominal conditions (links as configured, no load, all up).</summary>
    Task ResetAsync(CancellationToken ct);

    /// <summary>Changes a link's bandwidth and/or one-way latency (null keeps the current value), both directions.</summary>
    Task SetLinkAsync(string a, string b, double? bandwidthMbps, double? latencyMs, CancellationToken ct);

    /// <summary>
    /// <paramref name="jobs"/> other busy jobs share the device's compute unit until the handle is disposed
    /// (or, as a safety bound, <paramref name="atMost"/> of host time has passed).
    /// </summary>
    Task<IDisposable> TakeCpuAsync(string device, int jobs, TimeSpan atMost, CancellationToken ct);

    /// <summary>Another process holds <paramref name="megabytes"/> of the device's memory until the handle is disposed.</summary>
    Task<IDisposable> TakeMemoryAsync(string device, int megabytes, TimeSpan atMost, CancellationToken ct);

    /// <summary>Kills the device's agent, as a crash or a pulled plug would.</summary>
    Task KillAsync(string device, CancellationToken ct);

    /// <summary>Starts the device's agent again, same name, address and limits.</summary>
    Task ReviveAsync(string device, CancellationToken ct);

    /// <summary>The conditions in force now.</summary>
    TestbedSample Sample();
}
