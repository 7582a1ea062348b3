using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Testbed.Linux;

namespace EdgeSplit.Testbed.Calibration;

/// <summary>What one device measured: the reference model's latency as emulated, next to the host's own CPU time of it.</summary>
public sealed record ProbeResult(double HostCpuMs, double DeviceMs);

/// <summary>
/// Measures a device's emulated speed the way its agent computes: a child process runs a reference model
/// with ONNX Runtime on one thread and stretches each run as the agent does (<see cref="EmulatedLinks.AfterComputeAsync"/>
/// with the device's links file). It first runs unconstrained (the host's CPU time of the model, fresh),
/// is then moved into the device's cgroups and runs isolated requests, a pause between them as between a
/// camera's frames.
/// </summary>
public static class SpeedProbe
{
    public static async Task<ProbeResult> MeasureAsync(RunningTestbed testbed, string deviceName, ProcessLaunch probe, CancellationToken cancel)
    {
        var device = testbed.State.Device(deviceName);
        var info = new ProcessStartInfo(probe.FileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        foreach (var a in probe.Arguments)
        {
            info.ArgumentList.Add(a);
        }
        info.Environment[EmulatedLinks.EnvironmentVariable] = device.LinksFile;
        using var process = Process.Start(info) ?? throw new TestbedException($"could not start {probe.FileName}");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(TimeSpan.FromSeconds(180));
            var ready = await process.StandardOutput.ReadLineAsync(timeout.Token);
            if (ready != "ready")
            {
                throw new TestbedException($"the speed probe did not start (said '{ready}'); is {probe.FileName} {string.Join(' ', probe.Arguments)} right?");
            }
            async Task<(double WallMs, double CpuMs)> Run(string command)
            {
                await process.StandardInput.WriteLineAsync(command.AsMemory(), timeout.Token);
                await process.StandardInput.FlushAsync(timeout.Token);
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new TestbedException("the speed probe stopped");
                var parts = line.Split(' ');
                return (double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture));
            }
            // Isolated runs, as the host calibration and the device's runs are: back-to-back ones run on warmer caches.
            var free = new List<double>();
            for (var i = 0; i < 9; i++)
            {
                await Task.Delay(ReferenceTimer.PauseMs, timeout.Token);
                free.Add((await Run("free")).CpuMs);
            }
            if (device.CgroupDirectories.Count == 0)
            {
                throw new TestbedException("the speed probe needs the device's cgroups (run as root)");
            }
            new CgroupSet(device.CgroupV2, device.CgroupDirectories).Join(process.Id);
            var emulated = new List<double>();
            for (var i = 0; i < 9; i++)
            {
                var (wall, _) = await Run("device");
                emulated.Add(wall);
                // Idle as long as the request took, as a device between two frames would.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(wall, 2000)), timeout.Token);
            }
            return new ProbeResult(Median(free), Median(emulated));
        }
        finally
        {
            process.StandardInput.Close();
            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill();
            }
        }
    }

    /// <summary>
    /// The child: print "ready", then per line run the model once, "free" as is, "device" stretched as the
    /// agent stretches (by the links file in <c>EDGESPLIT_EMULATED_LINKS</c>), and print "WALL_MS CPU_MS".
    /// </summary>
    public static void Serve(string model, TextReader input, TextWriter output)
    {
        using var timer = new ReferenceTimer(model, threads: 1);
        for (var i = 0; i < 3; i++)
        {
            timer.RunOnce();
        }
        var emulation = EmulatedLinks.FromEnvironment();
        output.WriteLine("ready");
        output.Flush();
        while (input.ReadLine()?.Trim() is { } command && command is "free" or "device")
        {
            var started = Stopwatch.GetTimestamp();
            var (_, cpu) = timer.RunOnce();
            if (command == "device" && emulation is not null)
            {
                emulation.AfterComputeAsync(Stopwatch.GetElapsedTime(started), cpu, CancellationToken.None).GetAwaiter().GetResult();
            }
            var wall = Stopwatch.GetElapsedTime(started);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{wall.TotalMilliseconds:0.###} {cpu.TotalMilliseconds:0.###}"));
            output.Flush();
        }
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
