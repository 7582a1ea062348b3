using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Testbed.Linux;

namespace EdgeSplit.Testbed;

/// <summary>
/// The processes of a testbed: device processes started inside their cgroups and namespace, recognised
/// again by the marks in their environment (a recycled pid is not ours), and the watchdog that cleans up
/// when the owner dies.
/// </summary>
internal static class DeviceProcesses
{
    public const string WatchdogMarker = ": es-watchdog";

    /// <summary>
    /// Starts <paramref name="launch"/> in a device: it joins the device's cgroups from a shell before
    /// exec, so not one instruction runs unconstrained, then enters the network namespace with nsenter.
    /// Not 'ip netns exec': it remounts /sys without the cgroup mounts, so an agent could not read its own
    /// memory limit and usage, and the planner never saw a device's memory pressure. Output goes to
    /// <paramref name="logFile"/> (null: captured).
    /// </summary>
    public static Process Launch(TestbedState state, DeviceState device, ProcessLaunch launch, string? logFile, bool detach)
    {
        var joins = string.Join(' ', device.CgroupDirectories.Select(d => Path.Combine(d, "cgroup.procs")));
        var redirect = logFile is null ? "" : $" >>'{logFile}' 2>&1 </dev/null";
        var enter = device.Namespace is null ? "" : $"nsenter --net=/run/netns/{device.Namespace} -- ";
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
        info.Environment["EDGESPLIT_TESTBED"] = state.Name;
        info.Environment["EDGESPLIT_EMULATED_CPU_CORES"] = device.BusyCores.ToString("0.####", CultureInfo.InvariantCulture);
        return Process.Start(info) ?? throw new TestbedException($"could not start {launch.FileName} in device {device.Name}");
    }

    /// <summary>Is <paramref name="pid"/> alive and marked as this testbed's <paramref name="device"/>?</summary>
    public static bool IsDeviceProcess(TestbedState state, DeviceState device, int pid)
    {
        if (!Exec.ProcessAlive(pid))
        {
            return false;
        }
        // While a launcher execs the next program the environment reads empty for a moment; that is not death.
        for (var attempt = 0; attempt < 20; attempt++)
        {
            if (ReadProcFile(pid, "environ") is not { Length: > 0 } environ)
            {
                if (!Exec.ProcessAlive(pid))
                {
                    return false;
                }
                Thread.Sleep(5);
                continue;
            }
            return environ.Contains($"EDGESPLIT_TESTBED={state.Name}\0", StringComparison.Ordinal)
                && environ.Contains($"EDGESPLIT_DEVICE={device.Name}\0", StringComparison.Ordinal);
        }
        return false;
    }

    /// <summary>
    /// Waits (bounded) until the launcher chain (sh, nsenter, setsid) has exec'd the device's own program,
    /// so that a check right after start sees the program, not a launcher between two execs.
    /// </summary>
    public static void WaitUntilExeced(Process process, TestbedState state, DeviceState device, ProcessLaunch launch)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            if (process.HasExited)
            {
                throw new TestbedException($"device {device.Name}: its process exited at start with code {process.ExitCode}{LogTail(device.LogFile)}");
            }
            if (ReadProcFile(process.Id, "cmdline") is { } cmdline && cmdline.Split('\0')[0] == launch.FileName
                && IsDeviceProcess(state, device, process.Id))
            {
                return;
            }
            Thread.Sleep(5);
        }
    }

    private static string? ReadProcFile(int pid, string name)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/{name}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>A separate session that survives a kill -9 of its owner and then removes what the owner left.</summary>
    public static int StartWatchdog(TestbedState state, string stateDirectory, int ownerPid)
    {
        var cgroups = string.Join(' ', state.Devices.SelectMany(d => d.CgroupDirectories));
        var namespaces = string.Join(' ', state.Namespaces);
        var links = string.Join(' ', state.HostInterfaces);
        var script = $"{WatchdogMarker} {state.Name}\n"
            // Let go of the owner's stdout and stderr, or whoever reads them waits for the watchdog too.
            + "exec </dev/null >/dev/null 2>&1\n"
            + $"while kill -0 {ownerPid} 2>/dev/null; do sleep 1; done\n"
            + $"for ns in {namespaces}; do for p in $(ip netns pids $ns 2>/dev/null); do kill -9 $p; done; done\n"
            + $"for cg in {cgroups}; do for p in $(cat $cg/cgroup.procs 2>/dev/null); do kill -9 $p; done; done\n"
            + (state.Mode == TestbedMode.Loopback ? $"for p in $(cat '{stateDirectory}/pids' 2>/dev/null); do grep -qz 'EDGESPLIT_TESTBED={state.Name}' /proc/$p/environ 2>/dev/null && kill -9 $p; done\n" : "")
            + "sleep 0.5\n"
            + $"for cg in {cgroups}; do rmdir $cg 2>/dev/null; done\n"
            + $"for ns in {namespaces}; do ip netns del $ns 2>/dev/null; done\n"
            + $"for l in {links}; do ip link del $l 2>/dev/null; done\n"
            + $"rm -rf '{stateDirectory}'\n";
        var info = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var a in new[] { "sh", "-c", script })
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info) ?? throw new TestbedException("could not start the cleanup watchdog (setsid sh)");
        return process.Id;
    }

    public static bool IsWatchdog(TestbedState state, int pid)
    {
        try
        {
            return Exec.ProcessAlive(pid) && File.ReadAllText($"/proc/{pid}/cmdline").Contains($"{WatchdogMarker} {state.Name}\n", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// The launcher joins the cgroups, then nsenter enters the namespace: wait for that step,
    /// so a testbed reported up has every device process inside its namespace (bounded). A process
    /// that dies on the way is an error that names the device and quotes the end of its log.
    /// </summary>
    public static void WaitUntilInNamespace(Process process, DeviceState device)
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

    /// <summary>Waits (bounded) until something accepts TCP connections at the device's control address and port.</summary>
    public static bool WaitUntilListening(DeviceState device, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                if (client.ConnectAsync(device.ControlAddress, device.Port).Wait(TimeSpan.FromMilliseconds(500)))
                {
                    return true;
                }
            }
            catch (AggregateException)
            {
                // Not listening yet.
            }
            Thread.Sleep(100);
        }
        return false;
    }

    public static string LogTail(string? logFile)
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

    public static void KillNamespaceProcesses(string ns)
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

    public static void WaitForExit(int pid)
    {
        var deadline = Stopwatch.StartNew();
        while (Exec.ProcessAlive(pid) && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(20);
        }
    }
}
