using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Graph;
using EdgeSplit.Testbed.Config;
using EdgeSplit.Testbed.Linux;

namespace EdgeSplit.Testbed;

/// <summary>A program to start: the file and its arguments.</summary>
public sealed record ProcessLaunch(string FileName, IReadOnlyList<string> Arguments);

/// <summary>Builds the command line of a device's process (normally <c>edgesplit agent</c>) from its place in the testbed.</summary>
public delegate ProcessLaunch DeviceCommand(TestbedDevice device, DeviceState state);

/// <summary>How to bring a testbed up.</summary>
public sealed record TestbedOptions
{
    /// <summary>Where state files live; see <see cref="RunningTestbed.DefaultStateRoot"/>.</summary>
    public string StateRoot { get; init; } = RunningTestbed.DefaultStateRoot;

    /// <summary>Use the loopback fallback even as root.</summary>
    public bool ForceLoopback { get; init; }

    /// <summary>Speed of one host core relative to the reference; null = the testbed file's value, else measured.</summary>
    public double? HostRelativeCpuSpeed { get; init; }

    /// <summary>The device process; null starts none (network and cgroups only, as <c>testbed check</c> needs).</summary>
    public DeviceCommand? Command { get; init; }

    /// <summary>Detached testbeds outlive this process and need <c>testbed down</c>; others are torn down by a watchdog when it dies.</summary>
    public bool Detached { get; init; }

    /// <summary>Port every agent listens on inside its namespace (in loopback mode free ports are picked).</summary>
    public int AgentPort { get; init; } = 50051;

    public Action<string>? Log { get; init; }
}

/// <summary>
/// An emulated testbed on this host. As root each device gets a network namespace <c>es-NAME-DEVICE</c>,
/// each link a veth pair between two namespaces shaped with <c>tc tbf</c> in both directions, each
/// device cgroups with a CPU quota and cpuset from its profile's relative speed and a memory limit;
/// a control veth joins each namespace to the root namespace so a coordinator can reach the agents.
/// Latency is added by senders (see <see cref="EmulatedLinks"/>) because this kernel lacks netem.
/// Without root, devices are processes on loopback and shaping and slowdown are done in-process.
/// </summary>
public sealed class RunningTestbed
{
    public const string Prefix = "es-";
    private const string WatchdogMarker = ": es-watchdog";

    private RunningTestbed(TestbedState state, string stateFile, Action<string> log)
    {
        State = state;
        StateFile = stateFile;
        this.log = log;
    }

    private readonly Action<string> log;

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
        CleanLeftovers(options.StateRoot, log);
        var mode = CanUseNamespaces && !options.ForceLoopback ? TestbedMode.Namespaces : TestbedMode.Loopback;
        if (mode == TestbedMode.Loopback)
        {
            log(Exec.IsRoot
                ? "loopback fallback requested: devices share 127.0.0.1; bandwidth, latency and CPU slowdown are emulated in-process by the agents (estimated)"
                : "not root: loopback fallback; devices share 127.0.0.1 and bandwidth, latency and CPU slowdown are emulated in-process by the agents (estimated). Run as root for namespaces, tc and cgroups.");
        }
        var hostSpeed = options.HostRelativeCpuSpeed ?? spec.HostRelativeCpuSpeed ?? ReferenceWorkload.MeasureRelativeSpeed();
        var stateFile = StateFileFor(options.StateRoot, spec.Name);
        using var _ = LockRoot(options.StateRoot);
        if (File.Exists(stateFile))
        {
            throw new BadInputException($"testbed '{spec.Name}' is already up (state in {stateFile}); run 'edgesplit testbed down {spec.Name}' first");
        }
        var slot = FreeSlot(options.StateRoot);
        var state = Plan(spec, specFile, mode, slot, hostSpeed, options);
        var testbed = new RunningTestbed(state, stateFile, log);
        state.Save(stateFile);
        try
        {
            if (mode == TestbedMode.Namespaces)
            {
                testbed.CreateNamespaces(spec);
            }
            foreach (var device in state.Devices)
            {
                testbed.WriteLinksFile(device.Name);
            }
            if (!options.Detached)
            {
                state.WatchdogPid = testbed.StartWatchdog(Environment.ProcessId);
            }
            state.Save(stateFile);
            if (options.Command is { } command)
            {
                foreach (var device in spec.Devices)
                {
                    var deviceState = state.Device(device.Name);
                    var launch = command(device, deviceState);
                    var updated = deviceState with { Command = [launch.FileName, .. launch.Arguments] };
                    state.Devices[state.Devices.IndexOf(deviceState)] = updated;
                    testbed.StartDevice(device.Name);
                }
                // A device that entered its namespace and then died while the others started is as dead as one that never got there.
                testbed.ThrowIfADeviceDied();
            }
            state.Save(stateFile);
            return testbed;
        }
        catch
        {
            testbed.Down();
            throw;
        }
    }

    /// <summary>Opens a testbed brought up by another process.</summary>
    public static RunningTestbed Open(string name, string? stateRoot = null, Action<string>? log = null)
    {
        stateRoot ??= DefaultStateRoot;
        CleanLeftovers(stateRoot, log ?? (_ => { }));
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

    /// <summary>Tears down testbeds whose owning process died without doing so (a crash, a kill -9).</summary>
    public static void CleanLeftovers(string stateRoot, Action<string> log)
    {
        foreach (var name in ListNames(stateRoot))
        {
            var file = StateFileFor(stateRoot, name);
            TestbedState state;
            try
            {
                state = TestbedState.Load(file);
            }
            catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException)
            {
                continue;
            }
            if (state.OwnerPid is { } owner && !Exec.ProcessAlive(owner))
            {
                log($"removing leftovers of testbed '{name}' (its owner, pid {owner}, is gone)");
                new RunningTestbed(state, file, log).Down();
            }
        }
    }

    /// <summary>Removes every namespace, interface and cgroup named with the es- prefix, and all state files.</summary>
    public static int DownAll(string? stateRoot = null, Action<string>? log = null)
    {
        stateRoot ??= DefaultStateRoot;
        var count = 0;
        foreach (var name in ListNames(stateRoot))
        {
            Open(name, stateRoot, log).Down();
            count++;
        }
        if (CanUseNamespaces)
        {
            foreach (var ns in Exec.Run("ip", "netns", "list").Stdout.Split('\n').Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
            {
                KillNamespaceProcesses(ns);
                Exec.Try("ip", "netns", "del", ns);
                count++;
            }
            foreach (var link in Exec.Run("ip", "-o", "link", "show").Stdout.Split('\n').Select(l => l.Split(':', 3)).Where(p => p.Length == 3).Select(p => p[1].Trim().Split('@')[0]).Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
            {
                Exec.Try("ip", "link", "del", link);
            }
            var root = "/sys/fs/cgroup";
            var candidates = CgroupSet.HostIsV2(root) ? [root] : new[] { "cpu", "cpuset", "memory" }.Select(c => Path.Combine(root, c)).Where(Directory.Exists);
            var dirs = candidates.SelectMany(c => Directory.EnumerateDirectories(c, Prefix + "*")).ToList();
            CgroupSet.Remove(dirs);
        }
        return count;
    }

    /// <summary>Stops every process and removes every namespace, interface, cgroup and state file of this testbed.</summary>
    public void Down()
    {
        if (State.WatchdogPid is { } watchdog && IsOurWatchdog(watchdog))
        {
            Exec.Try("kill", "-9", watchdog.ToString(CultureInfo.InvariantCulture));
        }
        foreach (var device in State.Devices)
        {
            if (device.Pid is { } pid && IsDeviceProcess(device, pid))
            {
                Exec.Try("kill", "-9", pid.ToString(CultureInfo.InvariantCulture));
            }
        }
        foreach (var ns in State.Namespaces)
        {
            KillNamespaceProcesses(ns);
        }
        CgroupSet.Remove([.. State.Devices.SelectMany(d => d.CgroupDirectories)]);
        var existing = State.Namespaces.Count == 0 ? "" : Exec.Run("ip", "netns", "list").Stdout;
        foreach (var ns in State.Namespaces)
        {
            if (existing.Contains(ns, StringComparison.Ordinal))
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
            Shape(State.Device(link.A).Namespace!, link.InterfaceA!, link.BandwidthMbps);
            Shape(State.Device(link.B).Namespace!, link.InterfaceB!, link.BandwidthMbps);
        }
        WriteLinksFile(link.A);
        WriteLinksFile(link.B);
        State.Save(StateFile);
    }

    /// <summary>Kills a device's process with SIGKILL, as a crash would.</summary>
    public void Kill(string deviceName)
    {
        var device = State.Device(deviceName);
        if (device.Pid is { } pid && IsDeviceProcess(device, pid))
        {
            Exec.Try("kill", "-9", pid.ToString(CultureInfo.InvariantCulture));
            WaitForExit(pid);
        }
        device.Pid = null;
        State.Save(StateFile);
    }

    /// <summary>Starts a device's process again with the command it was first started with.</summary>
    public void Revive(string deviceName)
    {
        var device = State.Device(deviceName);
        if (device.Pid is { } pid && IsDeviceProcess(device, pid))
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
    public bool IsRunning(string deviceName) => State.Device(deviceName) is { Pid: { } pid } d && IsDeviceProcess(d, pid);

    /// <summary>
    /// Fails, naming the device, its command and the end of its log, if a device that was given a
    /// process is no longer running it: a testbed with a dead device is useless.
    /// </summary>
    public void ThrowIfADeviceDied()
    {
        if (State.Devices.FirstOrDefault(d => d.Command.Count > 0 && !IsRunning(d.Name)) is { } dead)
        {
            throw new TestbedException($"device {dead.Name}: its process exited at start{LogTail(dead.LogFile)}; check '{string.Join(' ', dead.Command)}'");
        }
    }

    /// <summary>
    /// Starts a helper process (a CPU load, a memory hog) inside a device: its namespace and cgroups,
    /// joined before the program starts. Output goes to the device's log. Returns the pid.
    /// </summary>
    public Process StartInDevice(string deviceName, ProcessLaunch launch, bool captureOutput = false)
    {
        var device = State.Device(deviceName);
        return Launch(device, launch, captureOutput ? null : device.LogFile, detach: !captureOutput);
    }

    /// <summary>A snapshot of what is running, for <c>testbed status</c>.</summary>
    public TestbedStatus Status()
    {
        var namespaces = State.Mode == TestbedMode.Namespaces ? Exec.Run("ip", "netns", "list").Stdout : "";
        var devices = State.Devices.Select(d => new DeviceStatus(
            d.Name, d.Profile, d.ControlAddress, d.Port, d.Pid,
            d.Pid is { } pid && IsDeviceProcess(d, pid),
            d.Namespace is null || namespaces.Contains(d.Namespace, StringComparison.Ordinal),
            d.CgroupDirectories.All(Directory.Exists),
            d.QuotaCores, d.Cpus, d.MemoryBytes / (1024 * 1024), d.ConfiguredSlowdown)).ToList();
        var links = State.Links.Select(l => new LinkStatus(
            l.A, l.B, l.AddressA, l.AddressB, l.BandwidthMbps, l.LatencyMs,
            State.Mode == TestbedMode.Namespaces ? Qdisc(State.Device(l.A).Namespace!, l.InterfaceA!) : "in-process (loopback fallback)")).ToList();
        return new TestbedStatus(State.Name, State.Mode, State.Source, State.HostRelativeCpuSpeed, State.OwnerPid, devices, links);
    }

    private static TestbedState Plan(TestbedSpec spec, string specFile, TestbedMode mode, int slot, double hostSpeed, TestbedOptions options)
    {
        var hostCores = Environment.ProcessorCount;
        var dir = Path.GetDirectoryName(StateFileFor(options.StateRoot, spec.Name))!;
        var devices = new List<DeviceState>();
        var nextCpu = 0;
        var usedPorts = new HashSet<int>();
        for (var k = 0; k < spec.Devices.Count; k++)
        {
            var device = spec.Devices[k];
            var cores = Math.Min(device.Profile.Cores, hostCores);
            var ratio = Math.Min(1, device.Profile.RelativeCpuSpeed / hostSpeed);
            if (device.Profile.RelativeCpuSpeed > hostSpeed)
            {
                options.Log?.Invoke($"device '{device.Name}' ({device.Profile.Name}) is faster than this host per core; it runs at host speed");
            }
            // Spread devices over the host's cores so single-core devices do not all share core 0.
            var cpus = Enumerable.Range(0, cores).Select(i => (nextCpu + i) % hostCores).Order().ToList();
            nextCpu = (nextCpu + cores) % hostCores;
            var ns = mode == TestbedMode.Namespaces ? $"{Prefix}{spec.Name}-{device.Name}" : null;
            devices.Add(new DeviceState
            {
                Name = device.Name,
                Profile = device.Profile.Name,
                Namespace = ns,
                ControlAddress = mode == TestbedMode.Namespaces ? ControlAddress(slot, k, deviceSide: true) : "127.0.0.1",
                Port = mode == TestbedMode.Namespaces ? options.AgentPort : FreeLoopbackPort(usedPorts),
                HostInterface = mode == TestbedMode.Namespaces ? $"{Prefix}{slot}m{k}h" : null,
                Cpus = string.Join(',', cpus),
                QuotaCores = cores * ratio,
                MemoryBytes = (long)device.Profile.MemoryMb * 1024 * 1024,
                ConfiguredSlowdown = 1 / ratio,
                EmulatedCores = cores,
                LinksFile = Path.Combine(dir, $"{device.Name}.links.json"),
                LogFile = Path.Combine(dir, $"{device.Name}.log"),
            });
        }
        var links = spec.Links.Select((l, i) => new LinkState
        {
            A = l.A,
            B = l.B,
            InterfaceA = mode == TestbedMode.Namespaces ? $"{Prefix}{slot}l{i}a" : null,
            InterfaceB = mode == TestbedMode.Namespaces ? $"{Prefix}{slot}l{i}b" : null,
            AddressA = mode == TestbedMode.Namespaces ? LinkAddress(slot, i, 1) : "127.0.0.1",
            AddressB = mode == TestbedMode.Namespaces ? LinkAddress(slot, i, 2) : "127.0.0.1",
            BandwidthMbps = l.BandwidthMbps,
            LatencyMs = l.LatencyMs,
        }).ToList();
        return new TestbedState
        {
            Name = spec.Name,
            Mode = mode,
            Slot = slot,
            Source = spec.Source,
            SpecFile = Path.GetFullPath(specFile),
            HostRelativeCpuSpeed = hostSpeed,
            OwnerPid = options.Detached ? null : Environment.ProcessId,
            Namespaces = [.. devices.Where(d => d.Namespace is not null).Select(d => d.Namespace!)],
            HostInterfaces = [.. devices.Where(d => d.HostInterface is not null).Select(d => d.HostInterface!)],
            Devices = devices,
            Links = links,
            CoordinatorAddress = mode == TestbedMode.Namespaces ? ControlAddress(slot, 0, deviceSide: false) : "127.0.0.1",
        };
    }

    // Slot s owns 10.77.(2s).0/24 for links (a /30 per link) and 10.77.(2s+1).0/24 for control veths (a /30 per device).
    private static string LinkAddress(int slot, int link, int end) => $"10.77.{2 * slot}.{(4 * link) + end}";

    private static string ControlAddress(int slot, int device, bool deviceSide) => $"10.77.{(2 * slot) + 1}.{(4 * device) + (deviceSide ? 2 : 1)}";

    private void CreateNamespaces(TestbedSpec spec)
    {
        for (var k = 0; k < State.Devices.Count; k++)
        {
            var d = State.Devices[k];
            var ns = d.Namespace!;
            log($"creating namespace {ns}");
            Exec.Check("ip", "netns", "add", ns);
            Exec.Check("ip", "-n", ns, "link", "set", "lo", "up");
            var deviceEnd = $"{Prefix}{State.Slot}m{k}d";
            Exec.Check("ip", "link", "add", d.HostInterface!, "type", "veth", "peer", "name", deviceEnd, "netns", ns);
            Exec.Check("ip", "addr", "add", ControlAddress(State.Slot, k, deviceSide: false) + "/30", "dev", d.HostInterface!);
            Exec.Check("ip", "link", "set", d.HostInterface!, "up");
            Exec.Check("ip", "-n", ns, "addr", "add", d.ControlAddress + "/30", "dev", deviceEnd);
            Exec.Check("ip", "-n", ns, "link", "set", deviceEnd, "up");
            if (k > 0)
            {
                // The coordinator's one address, reached over this device's own control veth (the host answers it itself; nothing is forwarded).
                Exec.Check("ip", "-n", ns, "route", "add", State.CoordinatorAddress + "/32", "via", ControlAddress(State.Slot, k, deviceSide: false));
            }
            var cgroups = CgroupSet.Create(ns, new CpuMemoryLimits(d.Cpus, d.QuotaCores, d.MemoryBytes));
            State.Devices[k] = d with { CgroupDirectories = cgroups.Directories, CgroupV2 = cgroups.V2 };
            State.Save(StateFile);
        }
        foreach (var link in State.Links)
        {
            var nsA = State.Device(link.A).Namespace!;
            var nsB = State.Device(link.B).Namespace!;
            log($"link {link.A} <-> {link.B}: {link.BandwidthMbps} Mbit/s, {link.LatencyMs} ms one way");
            Exec.Check("ip", "link", "add", link.InterfaceA!, "netns", nsA, "type", "veth", "peer", "name", link.InterfaceB!, "netns", nsB);
            Exec.Check("ip", "-n", nsA, "addr", "add", link.AddressA + "/30", "dev", link.InterfaceA!);
            Exec.Check("ip", "-n", nsB, "addr", "add", link.AddressB + "/30", "dev", link.InterfaceB!);
            Exec.Check("ip", "-n", nsA, "link", "set", link.InterfaceA!, "up");
            Exec.Check("ip", "-n", nsB, "link", "set", link.InterfaceB!, "up");
            Shape(nsA, link.InterfaceA!, link.BandwidthMbps);
            Shape(nsB, link.InterfaceB!, link.BandwidthMbps);
        }
        _ = spec;
    }

    /// <summary>The tbf settings for a rate: a burst of ~4 ms of traffic (at least two full frames) and ~50 ms of queue.</summary>
    internal static (long RateBitsPerSecond, long BurstBytes, long LimitBytes) TbfParameters(double bandwidthMbps)
    {
        var rate = (long)Math.Round(bandwidthMbps * 1e6);
        var bytesPerSecond = rate / 8;
        var burst = Math.Max(3028, bytesPerSecond / 250);
        var limit = Math.Max(4 * burst, bytesPerSecond / 20);
        return (rate, burst, limit);
    }

    private static void Shape(string ns, string device, double bandwidthMbps)
    {
        var (rate, burst, limit) = TbfParameters(bandwidthMbps);
        Exec.Check("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", device, "root", "tbf",
            "rate", rate.ToString(CultureInfo.InvariantCulture) + "bit",
            "burst", burst.ToString(CultureInfo.InvariantCulture),
            "limit", limit.ToString(CultureInfo.InvariantCulture));
    }

    private static string Qdisc(string ns, string device)
    {
        var (exit, stdout, _) = Exec.Run("ip", "netns", "exec", ns, "tc", "qdisc", "show", "dev", device);
        return exit == 0 ? stdout.Trim() : "missing";
    }

    private void WriteLinksFile(string deviceName)
    {
        var device = State.Device(deviceName);
        var links = State.Links.Where(l => l.A == deviceName || l.B == deviceName).Select(l =>
        {
            var peer = l.A == deviceName ? l.B : l.A;
            var peerAddress = l.A == deviceName ? l.AddressB : l.AddressA;
            var port = State.Device(peer).Port;
            IReadOnlyList<string> addresses = State.Mode == TestbedMode.Namespaces ? [peerAddress, $"{peerAddress}:{port}"] : [$"127.0.0.1:{port}"];
            return new EmulatedLink(peer, addresses, l.LatencyMs, l.BandwidthMbps, ShapedByKernel: State.Mode == TestbedMode.Namespaces);
        }).ToList();
        var slowdown = State.Mode == TestbedMode.Loopback ? device.ConfiguredSlowdown : (double?)null;
        EmulatedLinks.Write(device.LinksFile, new EmulatedLinksFile(deviceName, slowdown, links));
    }

    private void StartDevice(string deviceName)
    {
        var device = State.Device(deviceName);
        var launch = new ProcessLaunch(device.Command[0], [.. device.Command.Skip(1)]);
        using var process = Launch(device, launch, device.LogFile, detach: true);
        device.Pid = process.Id;
        if (device.Namespace is not null)
        {
            WaitUntilInNamespace(process, device);
        }
        RecordLoopbackPids();
        log($"device {deviceName}: pid {process.Id}, listening on {device.ControlAddress}:{device.Port}");
    }

    private Process Launch(DeviceState device, ProcessLaunch launch, string? logFile, bool detach)
    {
        // Join the cgroups from a shell before exec, so not one instruction of the program runs
        // unconstrained; and before 'ip netns exec', which remounts /sys without the cgroup mounts.
        var joins = string.Join(' ', device.CgroupDirectories.Select(d => Path.Combine(d, "cgroup.procs")));
        var redirect = logFile is null ? "" : $" >>'{logFile}' 2>&1 </dev/null";
        var enter = device.Namespace is null ? "" : $"ip netns exec {device.Namespace} ";
        var script = (joins.Length == 0 ? "" : $"for f in {joins}; do echo $$ > $f || exit 97; done; ")
            + $"exec {enter}{(detach ? "setsid " : "")}\"$@\"{redirect}";
        var info = new ProcessStartInfo("sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = logFile is null,
            RedirectStandardOutput = logFile is null,
        };
        foreach (var a in new[] { "-c", script, "sh", launch.FileName })
        {
            info.ArgumentList.Add(a);
        }
        foreach (var a in launch.Arguments)
        {
            info.ArgumentList.Add(a);
        }
        info.Environment[EmulatedLinks.EnvironmentVariable] = device.LinksFile;
        info.Environment["EDGESPLIT_DEVICE"] = device.Name;
        info.Environment["EDGESPLIT_TESTBED"] = State.Name;
        info.Environment["EDGESPLIT_EMULATED_CPU_CORES"] = device.QuotaCores.ToString("0.###", CultureInfo.InvariantCulture);
        return Process.Start(info) ?? throw new TestbedException($"could not start {launch.FileName} in device {device.Name}");
    }

    private bool IsDeviceProcess(DeviceState device, int pid)
    {
        if (!Exec.ProcessAlive(pid))
        {
            return false;
        }
        // Guard against a recycled pid: the process must carry this testbed's and device's marks.
        try
        {
            var environ = File.ReadAllText($"/proc/{pid}/environ");
            return environ.Contains($"EDGESPLIT_TESTBED={State.Name}\0", StringComparison.Ordinal)
                && environ.Contains($"EDGESPLIT_DEVICE={device.Name}\0", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private int StartWatchdog(int ownerPid)
    {
        // A separate session survives a kill -9 of its owner and then removes what the owner left.
        var cgroups = string.Join(' ', State.Devices.SelectMany(d => d.CgroupDirectories));
        var namespaces = string.Join(' ', State.Namespaces);
        var links = string.Join(' ', State.HostInterfaces);
        var script = $"{WatchdogMarker} {State.Name}\n"
            // Let go of the owner's stdout and stderr, or whoever reads them waits for the watchdog too.
            + "exec </dev/null >/dev/null 2>&1\n"
            + $"while kill -0 {ownerPid} 2>/dev/null; do sleep 1; done\n"
            + $"for ns in {namespaces}; do for p in $(ip netns pids $ns 2>/dev/null); do kill -9 $p; done; done\n"
            + $"for cg in {cgroups}; do for p in $(cat $cg/cgroup.procs 2>/dev/null); do kill -9 $p; done; done\n"
            + (State.Mode == TestbedMode.Loopback ? $"for p in $(cat '{StateDirectory}/pids' 2>/dev/null); do grep -qz 'EDGESPLIT_TESTBED={State.Name}' /proc/$p/environ 2>/dev/null && kill -9 $p; done\n" : "")
            + "sleep 0.5\n"
            + $"for cg in {cgroups}; do rmdir $cg 2>/dev/null; done\n"
            + $"for ns in {namespaces}; do ip netns del $ns 2>/dev/null; done\n"
            + $"for l in {links}; do ip link del $l 2>/dev/null; done\n"
            + $"rm -rf '{StateDirectory}'\n";
        var info = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var a in new[] { "sh", "-c", script })
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info) ?? throw new TestbedException("could not start the cleanup watchdog (setsid sh)");
        return process.Id;
    }

    private bool IsOurWatchdog(int pid)
    {
        try
        {
            return Exec.ProcessAlive(pid) && File.ReadAllText($"/proc/{pid}/cmdline").Contains($"{WatchdogMarker} {State.Name}\n", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    internal void RecordLoopbackPids()
    {
        if (State.Mode == TestbedMode.Loopback)
        {
            File.WriteAllLines(Path.Combine(StateDirectory, "pids"), State.Devices.Where(d => d.Pid is not null).Select(d => d.Pid!.Value.ToString(CultureInfo.InvariantCulture)));
        }
    }

    /// <summary>
    /// The launcher joins the cgroups, then 'ip netns exec' enters the namespace: wait for that step,
    /// so a testbed reported up has every device process inside its namespace (bounded). A process
    /// that dies on the way is an error that names the device and quotes the end of its log.
    /// </summary>
    private static void WaitUntilInNamespace(Process process, DeviceState device)
    {
        var pid = process.Id.ToString(CultureInfo.InvariantCulture);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            if (process.HasExited)
            {
                throw new TestbedException($"device {device.Name}: its process exited at start with code {process.ExitCode}{LogTail(device.LogFile)}");
            }
            var (exit, stdout, _) = Exec.Run("ip", "netns", "identify", pid);
            if (exit == 0 && stdout.Split('\n', StringSplitOptions.TrimEntries).Contains(device.Namespace, StringComparer.Ordinal))
            {
                return;
            }
            Thread.Sleep(10);
        }
    }

    private static string LogTail(string? logFile)
    {
        try
        {
            var lines = logFile is not null && File.Exists(logFile) ? File.ReadLines(logFile).Where(l => l.Length > 0).TakeLast(3).ToList() : [];
            return lines.Count == 0 ? "" : "; its log ends: " + string.Join(" | ", lines);
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static void KillNamespaceProcesses(string ns)
    {
        var (exit, stdout, _) = Exec.Run("ip", "netns", "pids", ns);
        if (exit != 0)
        {
            return;
        }
        foreach (var pid in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Exec.Try("kill", "-9", pid);
            if (int.TryParse(pid, CultureInfo.InvariantCulture, out var p))
            {
                WaitForExit(p);
            }
        }
    }

    private static void WaitForExit(int pid)
    {
        var deadline = Stopwatch.StartNew();
        while (Exec.ProcessAlive(pid) && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(20);
        }
    }

    private static int FreeSlot(string stateRoot)
    {
        var used = new HashSet<int>();
        foreach (var name in ListNames(stateRoot))
        {
            try
            {
                used.Add(TestbedState.Load(StateFileFor(stateRoot, name)).Slot);
            }
            catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException)
            {
            }
        }
        var links = CanUseNamespaces ? Exec.Run("ip", "-o", "link", "show").Stdout : "";
        for (var slot = 0; slot < 100; slot++)
        {
            if (!used.Contains(slot) && !links.Contains($" {Prefix}{slot}m", StringComparison.Ordinal) && !links.Contains($" {Prefix}{slot}l", StringComparison.Ordinal))
            {
                return slot;
            }
        }
        throw new TestbedException("100 testbeds are up already; take some down with 'edgesplit testbed down --all'");
    }

    private static int FreeLoopbackPort(HashSet<int> used)
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (used.Add(port))
            {
                return port;
            }
        }
    }

    private static FileStream LockRoot(string stateRoot)
    {
        Directory.CreateDirectory(stateRoot);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(Path.Combine(stateRoot, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(100);
            }
        }
    }
}

/// <summary>One device as <c>testbed status</c> shows it.</summary>
public sealed record DeviceStatus(string Name, string Profile, string Address, int Port, int? Pid, bool Running, bool NamespaceExists, bool CgroupsExist, double QuotaCores, string Cpus, long MemoryMb, double ConfiguredSlowdown);

/// <summary>One link as <c>testbed status</c> shows it, with the qdisc really installed.</summary>
public sealed record LinkStatus(string A, string B, string AddressA, string AddressB, double BandwidthMbps, double LatencyMs, string Qdisc);

/// <summary>What <c>testbed status</c> reports.</summary>
public sealed record TestbedStatus(string Name, TestbedMode Mode, string Source, double HostRelativeCpuSpeed, int? OwnerPid, IReadOnlyList<DeviceStatus> Devices, IReadOnlyList<LinkStatus> Links);
