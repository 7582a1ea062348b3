using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Graph;
using EdgeSplit.Testbed.Calibration;
using EdgeSplit.Testbed.Config;
using EdgeSplit.Testbed.Linux;

namespace EdgeSplit.Testbed;

/// <summary>
/// An emulated testbed on this host. As root each device gets a network namespace <c>es-NAME-DEVICE</c>,
/// each link a veth pair between two namespaces shaped with <c>tc tbf</c> in both directions, and each
/// device cgroups with its memory limit and a CPU cap; a control veth joins each namespace to the root
/// namespace so a coordinator can reach the agents. The device's speed (<see cref="TestbedEmulation"/>) and
/// each link's latency are applied by its agent (<see cref="EmulatedLinks"/>): it stretches every compute's
/// CPU time to the unit's published speed, and a sender waits the one-way latency (this kernel lacks netem).
/// A CFS quota of the device's speed was tried and measured 2-3x too slow for a Pi on this shared host: a
/// 1 ms-per-15 ms quota loses whole periods whenever other tenants hold the core. Without root, devices are
/// processes on loopback and the agents also pace their sends.
/// </summary>
public sealed class RunningTestbed
{
    public const string Prefix = "es-";

    /// <summary>
    /// The CPU cap of every device's cgroup, in host cores: one inference thread and its runtime's threads,
    /// never the whole host. Speed is not set by it (see the class summary).
    /// </summary>
    public const double DeviceCapCores = 1;

    private readonly Action<string> log;

    internal RunningTestbed(TestbedState state, string stateFile, Action<string> log)
    {
        State = state;
        StateFile = stateFile;
        this.log = log;
    }

    public TestbedState State { get; }

    public string StateFile { get; }

    public string StateDirectory => Path.GetDirectoryName(StateFile)!;

    public static string DefaultStateRoot =>
        Environment.GetEnvironmentVariable("EDGESPLIT_TESTBED_STATE") is { Length: > 0 } dir ? dir
        : Exec.IsRoot ? "/run/edgesplit/testbeds"
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } x ? x : Path.GetTempPath(), "edgesplit-testbeds");

    public static bool CanUseNamespaces => OperatingSystem.IsLinux() && Exec.IsRoot && File.Exists("/usr/sbin/tc") | File.Exists("/sbin/tc") | File.Exists("/usr/bin/tc");

    public static string StateFileFor(string stateRoot, string name) => Path.Combine(stateRoot, name, "state.json");

    /// <summary>Brings a testbed up; on any failure removes what it created and rethrows.</summary>
    public static RunningTestbed Up(TestbedSpec spec, string specFile, TestbedOptions options)
    {
        var log = options.Log ?? (_ => { });
        TestbedCleanup.CleanLeftovers(options.StateRoot, log);
        var mode = CanUseNamespaces && !options.ForceLoopback ? TestbedMode.Namespaces : TestbedMode.Loopback;
        if (mode == TestbedMode.Loopback)
        {
            log(Exec.IsRoot
                ? "loopback fallback requested: devices share 127.0.0.1; bandwidth, latency, CPU speed and load are emulated in-process by the agents (estimated)"
                : "not root: loopback fallback; devices share 127.0.0.1 and bandwidth, latency, CPU speed and load are emulated in-process by the agents (estimated). Run as root for namespaces, tc and cgroups.");
        }
        var emulation = options.Emulation ?? TestbedEmulation.Plan(spec, HostCalibration.LoadOrMeasure(log), options.Model);
        if (emulation.Dilation.IsDilated)
        {
            log($"the devices need {emulation.Devices.Sum(d => d.Speed.HostCores):0.##} host cores at once; {emulation.Dilation.Label}");
        }
        var stateFile = StateFileFor(options.StateRoot, spec.Name);
        using var rootLock = TestbedLayout.LockRoot(options.StateRoot);
        if (File.Exists(stateFile))
        {
            throw new BadInputException($"testbed '{spec.Name}' is already up (state in {stateFile}); run 'edgesplit testbed down {spec.Name}' first");
        }
        RunningTestbed testbed;
        // One lock for the whole host while a slot is chosen and its interfaces made, whatever the state root.
        using (mode == TestbedMode.Namespaces ? TestbedLayout.LockHost() : null)
        {
            var slot = TestbedLayout.FreeSlot(ListNames(options.StateRoot).Select(n => TryLoad(options.StateRoot, n)?.Slot ?? -1), mode == TestbedMode.Namespaces);
            var state = TestbedLayout.Plan(spec, specFile, mode, slot, emulation, options);
            testbed = new RunningTestbed(state, stateFile, log);
            state.Save(stateFile);
            try
            {
                if (mode == TestbedMode.Namespaces)
                {
                    NamespaceNetwork.Create(state, stateFile, log);
                }
            }
            catch
            {
                testbed.Down();
                throw;
            }
        }
        try
        {
            testbed.StartAll(spec, options);
            return testbed;
        }
        catch
        {
            testbed.Down();
            throw;
        }
    }

    private void StartAll(TestbedSpec spec, TestbedOptions options)
    {
        foreach (var device in State.Devices)
        {
            WriteLinksFile(device.Name);
        }
        if (!options.Detached)
        {
            State.WatchdogPid = DeviceProcesses.StartWatchdog(State, StateDirectory, Environment.ProcessId);
        }
        State.Save(StateFile);
        if (options.Command is { } command)
        {
            foreach (var device in spec.Devices)
            {
                var deviceState = State.Device(device.Name);
                var launch = command(device, deviceState);
                State.Devices[State.Devices.IndexOf(deviceState)] = deviceState with { Command = [launch.FileName, .. launch.Arguments] };
                StartDevice(device.Name);
            }
            // A device that entered its namespace and then died while the others started is as dead as one that never got there.
            ThrowIfADeviceDied();
            if (options.AwaitListening)
            {
                foreach (var device in State.Devices.Where(d => !DeviceProcesses.WaitUntilListening(d, TimeSpan.FromSeconds(60))))
                {
                    throw new TestbedException($"device {device.Name}: nothing listens on {device.ControlAddress}:{device.Port} after 60 s{DeviceProcesses.LogTail(device.LogFile)}");
                }
            }
        }
        State.Save(StateFile);
    }

    /// <summary>Opens a testbed brought up by another process.</summary>
    public static RunningTestbed Open(string name, string? stateRoot = null, Action<string>? log = null)
    {
        stateRoot ??= DefaultStateRoot;
        TestbedCleanup.CleanLeftovers(stateRoot, log ?? (_ => { }));
        var file = StateFileFor(stateRoot, name);
        if (!File.Exists(file))
        {
            var up = ListNames(stateRoot);
            throw new BadInputException($"no testbed '{name}' is up{(up.Count == 0 ? "" : $" (up: {string.Join(", ", up)})")}; start it with 'edgesplit testbed up FILE.yaml'");
        }
        return new RunningTestbed(TestbedState.Load(file), file, log ?? (_ => { }));
    }

    public static IReadOnlyList<string> ListNames(string? stateRoot = null)
    {
        stateRoot ??= DefaultStateRoot;
        return Directory.Exists(stateRoot)
            ? [.. Directory.EnumerateDirectories(stateRoot).Where(d => File.Exists(Path.Combine(d, "state.json"))).Select(Path.GetFileName).Order(StringComparer.Ordinal)!]
            : [];
    }

    /// <summary>Stops every process and removes every namespace, interface, cgroup and state file of this testbed.</summary>
    public void Down()
    {
        if (State.WatchdogPid is { } watchdog && DeviceProcesses.IsWatchdog(State, watchdog))
        {
            Exec.Try("kill", "-9", watchdog.ToString(CultureInfo.InvariantCulture));
        }
        foreach (var device in State.Devices)
        {
            if (device.Pid is { } pid && DeviceProcesses.IsDeviceProcess(State, device, pid))
            {
                Exec.Try("kill", "-9", pid.ToString(CultureInfo.InvariantCulture));
            }
        }
        foreach (var ns in State.Namespaces)
        {
            DeviceProcesses.KillNamespaceProcesses(ns);
        }
        CgroupSet.Remove([.. State.Devices.SelectMany(d => d.CgroupDirectories)]);
        var existing = State.Namespaces.Count == 0 ? "" : Exec.Run("ip", "netns", "list").Stdout;
        foreach (var ns in State.Namespaces)
        {
            if (existing.Split('\n').Any(l => l.Split(' ')[0] == ns))
            {
                Exec.Check("ip", "netns", "del", ns);
            }
        }
        foreach (var link in State.HostInterfaces)
        {
            // Usually gone with its peer's namespace already.
            Exec.Try("ip", "link", "del", link);
        }
        if (Directory.Exists(StateDirectory))
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
        log($"testbed '{State.Name}' is down");
    }

    /// <summary>Reshapes a link (both directions) and tells both ends' senders the new latency.</summary>
    public void SetLink(string a, string b, double? bandwidthMbps, double? latencyMs)
    {
        var link = State.Link(a, b) ?? throw new BadInputException($"testbed '{State.Name}' has no link between '{a}' and '{b}'");
        link.BandwidthMbps = bandwidthMbps ?? link.BandwidthMbps;
        link.LatencyMs = latencyMs ?? link.LatencyMs;
        if (State.Mode == TestbedMode.Namespaces)
        {
            NamespaceNetwork.Shape(State, link);
        }
        WriteLinksFile(link.A);
        WriteLinksFile(link.B);
        State.Save(StateFile);
    }

    /// <summary>
    /// <paramref name="jobs"/> other busy jobs share the device's compute unit while the handle lives: its agent
    /// keeps parallelism / (parallelism + jobs) of the unit (fair sharing) and stretches its compute by that,
    /// and reports the rest as its device's CPU load. A process in the device (its namespace and cgroups) burns
    /// the CPU the jobs take, capped at that share of the device's speed, so the host is as busy as the device
    /// would be. It also ends by itself after <paramref name="atMost"/>.
    /// </summary>
    public IDisposable StartCpuLoad(string deviceName, int jobs, TimeSpan atMost, LoadCommand load)
    {
        var device = State.Device(deviceName);
        var cores = device.BusyCores * jobs / (device.Parallelism + jobs);
        var process = StartInDevice(deviceName, load(jobs, cores, 0, atMost));
        ChangeCompetingJobs(deviceName, jobs);
        return new LoadHandle(process, () => ChangeCompetingJobs(deviceName, -jobs));
    }

    /// <summary>
    /// Memory taken on a device while the handle lives: as root a process touching <paramref name="megabytes"/>
    /// inside the device's memory cgroup; in the loopback fallback nothing (logged as not emulated).
    /// </summary>
    public IDisposable StartMemoryLoad(string deviceName, int megabytes, TimeSpan atMost, LoadCommand load)
    {
        if (State.Mode != TestbedMode.Namespaces)
        {
            log($"memory taken on {deviceName} is not emulated in the loopback fallback (no memory cgroup)");
            return new LoadHandle(null, () => { });
        }
        return new LoadHandle(StartInDevice(deviceName, load(0, 0, megabytes, atMost)), () => { });
    }

    /// <summary>Kills a device's process with SIGKILL, as a crash would.</summary>
    public void Kill(string deviceName)
    {
        var device = State.Device(deviceName);
        if (device.Pid is { } pid && DeviceProcesses.IsDeviceProcess(State, device, pid))
        {
            Exec.Try("kill", "-9", pid.ToString(CultureInfo.InvariantCulture));
            DeviceProcesses.WaitForExit(pid);
        }
        device.Pid = null;
        State.Save(StateFile);
    }

    /// <summary>Starts a device's process again with the command it was first started with, same address and limits.</summary>
    public void Revive(string deviceName)
    {
        var device = State.Device(deviceName);
        if (device.Pid is { } pid && DeviceProcesses.IsDeviceProcess(State, device, pid))
        {
            return;
        }
        if (device.Command.Count == 0)
        {
            throw new BadInputException($"device '{deviceName}' was brought up without a process, so there is nothing to revive");
        }
        StartDevice(deviceName);
        State.Save(StateFile);
    }

    /// <summary>Is the device's process running?</summary>
    public bool IsRunning(string deviceName) => State.Device(deviceName) is { Pid: { } pid } d && DeviceProcesses.IsDeviceProcess(State, d, pid);

    /// <summary>Waits (bounded) until the device's process accepts connections on its port.</summary>
    public bool WaitUntilListening(string deviceName, TimeSpan timeout) => DeviceProcesses.WaitUntilListening(State.Device(deviceName), timeout);

    /// <summary>
    /// Fails, naming the device, its command and the end of its log, if a device that was given a
    /// process is no longer running it: a testbed with a dead device is useless.
    /// </summary>
    public void ThrowIfADeviceDied()
    {
        if (State.Devices.FirstOrDefault(d => d.Command.Count > 0 && !IsRunning(d.Name)) is { } dead)
        {
            throw new TestbedException($"device {dead.Name}: its process exited at start{DeviceProcesses.LogTail(dead.LogFile)}; check '{string.Join(' ', dead.Command)}'");
        }
    }

    /// <summary>
    /// Starts a helper process (a CPU load, a memory hog, a probe) inside a device: its namespace and cgroups,
    /// joined before the program starts. Output goes to the device's log unless captured.
    /// </summary>
    public Process StartInDevice(string deviceName, ProcessLaunch launch, bool captureOutput = false)
    {
        var device = State.Device(deviceName);
        // Not detached (no setsid fork): the returned process is the program itself, so ending it ends the load.
        return DeviceProcesses.Launch(State, device, launch, captureOutput ? null : device.LogFile, detach: false);
    }

    /// <summary>A snapshot of what is running, for <c>testbed status</c>.</summary>
    public TestbedStatus Status()
    {
        var namespaces = State.Mode == TestbedMode.Namespaces ? Exec.Run("ip", "netns", "list").Stdout : "";
        var devices = State.Devices.Select(d => new DeviceStatus(
            d.Name, d.Profile, d.Unit, d.ControlAddress, d.Port, d.Pid,
            d.Pid is { } pid && DeviceProcesses.IsDeviceProcess(State, d, pid),
            d.Namespace is null || namespaces.Contains(d.Namespace, StringComparison.Ordinal),
            d.CgroupDirectories.All(Directory.Exists),
            d.BusyCores, d.Cpus, d.MemoryBytes / (1024 * 1024), d.Slowdown)).ToList();
        var links = State.Links.Select(l => new LinkStatus(
            l.A, l.B, l.AddressA, l.AddressB, l.BandwidthMbps, l.LatencyMs,
            State.Mode == TestbedMode.Namespaces ? NamespaceNetwork.Qdisc(State.Device(l.A).Namespace!, l.InterfaceA!) : "in-process (loopback fallback)")).ToList();
        return new TestbedStatus(State.Name, State.Mode, State.Source, State.Host, State.DilationFactor, State.OwnerPid, devices, links);
    }

    private void ChangeCompetingJobs(string deviceName, int delta)
    {
        var device = State.Device(deviceName);
        device.CompetingJobs = Math.Max(0, device.CompetingJobs + delta);
        WriteLinksFile(deviceName);
        State.Save(StateFile);
    }

    /// <summary>
    /// What the device's agent must do itself: stretch its compute (CPU time x slowdown over the share other
    /// jobs leave it), add each link's one-way latency, and (loopback) pace its sends; all on the dilated clock.
    /// </summary>
    private void WriteLinksFile(string deviceName)
    {
        var device = State.Device(deviceName);
        var dilation = State.Dilation;
        var namespaces = State.Mode == TestbedMode.Namespaces;
        var links = State.Links.Where(l => l.A == deviceName || l.B == deviceName).Select(l =>
        {
            var peer = l.A == deviceName ? l.B : l.A;
            var peerAddress = l.A == deviceName ? l.AddressB : l.AddressA;
            var port = State.Device(peer).Port;
            IReadOnlyList<string> addresses = namespaces ? [peerAddress, $"{peerAddress}:{port}"] : [$"127.0.0.1:{port}"];
            return new EmulatedLink(peer, addresses, dilation.StretchMs(l.LatencyMs), dilation.Slow(l.BandwidthMbps), ShapedByKernel: namespaces);
        }).ToList();
        var availability = (double)device.Parallelism / (device.Parallelism + device.CompetingJobs);
        EmulatedLinks.Write(device.LinksFile, new EmulatedLinksFile(deviceName, device.Slowdown / availability, links) { CpuLoad = 1 - availability, TimeDilation = dilation.Factor });
    }

    private void StartDevice(string deviceName)
    {
        var device = State.Device(deviceName);
        var launch = new ProcessLaunch(device.Command[0], [.. device.Command.Skip(1)]);
        using var process = DeviceProcesses.Launch(State, device, launch, device.LogFile, detach: true);
        device.Pid = process.Id;
        if (device.Namespace is not null)
        {
            DeviceProcesses.WaitUntilInNamespace(process, device);
        }
        DeviceProcesses.WaitUntilExeced(process, State, device, launch);
        if (State.Mode == TestbedMode.Loopback)
        {
            File.WriteAllLines(Path.Combine(StateDirectory, "pids"), State.Devices.Where(d => d.Pid is not null).Select(d => d.Pid!.Value.ToString(CultureInfo.InvariantCulture)));
        }
        log($"device {deviceName}: pid {process.Id}, listening on {device.ControlAddress}:{device.Port}");
    }

    internal static TestbedState? TryLoad(string stateRoot, string name)
    {
        try
        {
            return TestbedState.Load(StateFileFor(stateRoot, name));
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
