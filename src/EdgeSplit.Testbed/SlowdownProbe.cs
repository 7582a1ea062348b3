using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Testbed.Linux;

namespace EdgeSplit.Testbed;

/// <summary>
/// Measures how much slower a device's cgroup makes the reference workload: one child process runs it
/// unconstrained (best of a few runs), is then moved into the device's cgroups, and runs it again.
/// The workload uses as many threads as the device has emulated cores, since the quota is shared by them.
/// Slowdown = wall time inside the cgroup / CPU time of the same work (its wall time on an idle host).
/// </summary>
public static class SlowdownProbe
{
    /// <summary>Returns constrained time over unconstrained time; <paramref name="workload"/> starts <c>edgesplit testbed workload --threads T --units U</c>.</summary>
    public static async Task<double> MeasureAsync(RunningTestbed testbed, string deviceName, Func<int, double, ProcessLaunch> workload, CancellationToken cancel)
    {
        var device = testbed.State.Device(deviceName);
        var threads = device.EmulatedCores;
        // Size the run so the constrained run lasts ~1.5 s: many CFS periods, so quota rounding stays small.
        var unconstrainedSeconds = Math.Clamp(1.5 / device.ConfiguredSlowdown, 0.15, 1.5);
        var units = unconstrainedSeconds * ReferenceWorkload.ReferenceUnitsPerSecond * testbed.State.HostRelativeCpuSpeed;
        var launch = workload(threads, units);
        var info = new ProcessStartInfo(launch.FileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        foreach (var a in launch.Arguments)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info) ?? throw new TestbedException($"could not start {launch.FileName}");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(TimeSpan.FromSeconds(120));
            var ready = await process.StandardOutput.ReadLineAsync(timeout.Token);
            if (ready != "ready")
            {
                throw new TestbedException($"the reference workload did not start (said '{ready}'); is {launch.FileName} {string.Join(' ', launch.Arguments)} right?");
            }
            async Task<(double WallMs, double CpuMs)> RunOnce()
            {
                await process.StandardInput.WriteLineAsync("go".AsMemory(), timeout.Token);
                await process.StandardInput.FlushAsync(timeout.Token);
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new TestbedException("the reference workload stopped");
                var parts = line.Split(' ');
                return (double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture));
            }
            // Unconstrained time is the CPU time of the slowest thread: the wall time it would take on an
            // idle host. Wall time here would count the other tenants of a shared host as "device speed".
            var free = double.MaxValue;
            for (var i = 0; i < 2; i++)
            {
                free = Math.Min(free, (await RunOnce()).CpuMs);
            }
            if (device.CgroupDirectories.Count == 0)
            {
                // Loopback fallback: no cgroups; the agent stretches its own compute time instead.
                return 1;
            }
            new CgroupSet(device.CgroupV2, device.CgroupDirectories).Join(process.Id);
            var constrained = (await RunOnce()).WallMs;
            return constrained / free;
        }
        finally
        {
            process.StandardInput.Close();
            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                process.Kill();
            }
        }
    }
}
