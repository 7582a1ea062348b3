using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Testbed.Linux;

namespace EdgeSplit.Testbed.Calibration;

/// <summary>What one device measured: the reference model's latency as emulated, next to the host's own CPU time of it at the same time.</summary>
public sealed record ProbeResult(double HostCpuMs, double DeviceMs);

/// <summary>
/// Measures a device's emulated speed the way its agent computes: a child process inside the device's cgroups
/// runs a reference model with ONNX Runtime on one thread, in turn plainly (the host's CPU time of the model
/// now) and stretched as the agent stretches (<see cref="EmulatedLinks.AfterComputeAsync"/> with the device's
/// links file).
/// </summary>
public static class SpeedProbe
{
    /// <summary>Isolated runs each way; the median is reported.</summary>
    public const int Runs = 15;

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
            if (device.CgroupDirectories.Count == 0)
            {
                throw new TestbedException("the speed probe needs the device's cgroups (run as root)");
            }
            new CgroupSet(device.CgroupV2, device.CgroupDirectories).Join(process.Id);
            // Inside the device, a plain run and a stretched one in turn, each after a pause as between a camera's
            // frames: the plain runs' CPU time is what the host gives the model at that very moment (it drifts with
            // other tenants' load), so the stretch is checked against it, not against a calibration minutes old.
            var free = new List<double>();
            var emulated = new List<double>();
            for (var i = 0; i < Runs; i++)
            {
                await Task.Delay(ReferenceTimer.PauseMs, timeout.Token);
                free.Add((await Run("free")).CpuMs);
                await Task.Delay(ReferenceTimer.PauseMs, timeout.Token);
                emulated.Add((await Run("device")).WallMs);
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
