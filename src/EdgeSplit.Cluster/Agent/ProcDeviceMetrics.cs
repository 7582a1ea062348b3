using System.Diagnostics;
using System.Globalization;

namespace EdgeSplit.Cluster.Agent;

/// <summary>One reading of a device, mapped from and to the wire's DeviceMetrics.</summary>
public sealed record DeviceSample(
    string Name,
    DateTimeOffset Time,
    double CpuUtilisation,
    IReadOnlyList<double> CpuPerCore,
    long MemoryAvailableBytes,
    long MemoryLimitBytes,
    double ProcessCpuUtilisation,
    long ProcessRssBytes,
    long NetBytesIn,
    long NetBytesOut,
    double TemperatureC,
    double PowerW,
    double EnergyJ,
    bool PowerEstimated,
    IReadOnlyList<LinkSample> Links,
    int Queued,
    long Executed);

/// <summary>Measured link to a peer: round trip and (when known) bandwidth.</summary>
public sealed record LinkSample(string Peer, double RttMs, double BandwidthBytesPerSecond);

/// <summary>
/// A simple Linux /proc reader for the agent's Metrics stream until the resource monitor
/// (Monitoring/) is wired in. Power is a linear model of CPU load, hence always estimated.
/// </summary>
internal sealed class ProcDeviceMetrics
{
    // Estimated power model of a Raspberry-Pi-class board: idle watts plus watts at full load.
    private const double IdleWatts = 2.7, FullLoadExtraWatts = 3.7;
    private (long Busy, long Total)[]? _lastCpu;
    private TimeSpan _lastProcessCpu;
    private long _lastTimestamp;
    private double _energyJ;

    public (double Total, double[] PerCore) SampleCpu()
    {
        var now = ReadCpu();
        if (now.Length == 0)
        {
            return (0, []);
        }
        var last = _lastCpu ?? now;
        _lastCpu = now;
        double Util(int i) => now[i].Total - last[i].Total <= 0 ? 0 : (double)(now[i].Busy - last[i].Busy) / (now[i].Total - last[i].Total);
        return (Util(0), [.. Enumerable.Range(1, now.Length - 1).Select(Util)]);
    }

    public DeviceSample Sample(string name, int queued, long executed, IReadOnlyList<LinkSample> links)
    {
        var (cpu, perCore) = SampleCpu();
        var process = Process.GetCurrentProcess();
        var timestamp = Stopwatch.GetTimestamp();
        var cpuTime = process.TotalProcessorTime;
        var wall = _lastTimestamp == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_lastTimestamp, timestamp);
        var processCpu = wall <= TimeSpan.Zero ? 0 : (cpuTime - _lastProcessCpu) / wall / Environment.ProcessorCount;
        var power = IdleWatts + (FullLoadExtraWatts * cpu);
        _energyJ += power * wall.TotalSeconds;
        _lastTimestamp = timestamp;
        _lastProcessCpu = cpuTime;
        var (memAvailable, memTotal) = ReadMemory();
        var (netIn, netOut) = ReadNet();
        return new DeviceSample(name, DateTimeOffset.UtcNow, cpu, perCore, memAvailable, memTotal, processCpu, process.WorkingSet64,
            netIn, netOut, ReadTemperature(), power, _energyJ, PowerEstimated: true, links, queued, executed);
    }

    public static long MemoryAvailableBytes() => ReadMemory().Available;

    private static (long Busy, long Total)[] ReadCpu()
    {
        try
        {
            return [.. File.ReadLines("/proc/stat").TakeWhile(l => l.StartsWith("cpu", StringComparison.Ordinal)).Select(line =>
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
                var idle = f[3] + (f.Length > 4 ? f[4] : 0);
                var total = f.Take(Math.Min(8, f.Length)).Sum();
                return (total - idle, total);
            })];
        }
        catch (IOException)
        {
            return [];
        }
    }

    private static (long Available, long Total) ReadMemory()
    {
        var info = GC.GetGCMemoryInfo();
        try
        {
            long available = -1, total = -1;
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    available = Kb(line);
                }
                else if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                {
                    total = Kb(line);
                }
            }
            // A cgroup limit (the testbed's emulated boards) is the real ceiling when present.
            var limit = Math.Min(total, info.TotalAvailableMemoryBytes);
            return (Math.Min(available, limit), limit);
        }
        catch (IOException)
        {
            return (info.TotalAvailableMemoryBytes, info.TotalAvailableMemoryBytes);
        }

        static long Kb(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    private static (long In, long Out) ReadNet()
    {
        try
        {
            long rx = 0, tx = 0;
            foreach (var line in File.ReadLines("/proc/net/dev").Skip(2))
            {
                var parts = line.Split(':', 2);
                if (parts.Length < 2 || parts[0].Trim() == "lo")
                {
                    continue;
                }
                var f = parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                rx += long.Parse(f[0], CultureInfo.InvariantCulture);
                tx += long.Parse(f[8], CultureInfo.InvariantCulture);
            }
            return (rx, tx);
        }
        catch (IOException)
        {
            return (0, 0);
        }
    }

    private static double ReadTemperature()
    {
        try
        {
            const string zone = "/sys/class/thermal/thermal_zone0/temp";
            return File.Exists(zone) ? double.Parse(File.ReadAllText(zone).Trim(), CultureInfo.InvariantCulture) / 1000 : double.NaN;
        }
        catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
        {
            return double.NaN;
        }
    }
}
