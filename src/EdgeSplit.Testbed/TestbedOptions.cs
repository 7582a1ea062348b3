namespace EdgeSplit.Testbed;

/// <summary>A program to start: the file and its arguments.</summary>
public sealed record ProcessLaunch(string FileName, IReadOnlyList<string> Arguments);

/// <summary>Builds the command line of a device's process (normally <c>edgesplit agent</c>) from its place in the testbed.</summary>
public delegate ProcessLaunch DeviceCommand(Config.TestbedDevice device, DeviceState state);

/// <summary>Builds the command of a scenario load: busy threads using so many host cores in all, and/or touched memory, for at most a while.</summary>
public delegate ProcessLaunch LoadCommand(int cpuThreads, double cores, int memoryMb, TimeSpan atMost);

/// <summary>How to bring a testbed up.</summary>
public sealed record TestbedOptions
{
    /// <summary>Where state files live; see <see cref="RunningTestbed.DefaultStateRoot"/>.</summary>
    public string StateRoot { get; init; } = RunningTestbed.DefaultStateRoot;

    /// <summary>Use the loopback fallback even as root.</summary>
    public bool ForceLoopback { get; init; }

    /// <summary>
    /// Device speeds and the dilation factor; null = planned from this host's cached calibration
    /// (<see cref="Calibration.HostCalibration.LoadOrMeasure"/>) with <see cref="Model"/> as the basis.
    /// </summary>
    public TestbedEmulation? Emulation { get; init; }

    /// <summary>The model about to be served, whose published latency sets the devices' speeds when their units list it.</summary>
    public string? Model { get; init; }

    /// <summary>The device process; null starts none (network and cgroups only, as <c>testbed check</c> needs).</summary>
    public DeviceCommand? Command { get; init; }

    /// <summary>Wait (bounded) until each device process accepts connections on its port: agents are ready when up returns.</summary>
    public bool AwaitListening { get; init; }

    /// <summary>Detached testbeds outlive this process and need <c>testbed down</c>; others are torn down by a watchdog when it dies.</summary>
    public bool Detached { get; init; }

    /// <summary>Port every agent listens on inside its namespace (in loopback mode free ports are picked).</summary>
    public int AgentPort { get; init; } = 50051;

    public Action<string>? Log { get; init; }
}
