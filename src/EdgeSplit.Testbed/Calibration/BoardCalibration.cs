using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed;

/// <summary>Builds a device profile for the machine this runs on (<c>edgesplit testbed calibrate</c>).</summary>
public static class Calibration
{
    /// <summary>
    /// Measures relative CPU speed with the reference workload and reads cores and memory; power and
    /// network figures cannot be measured from software, so they are copied from <paramref name="template"/>
    /// and the caller must say so.
    /// </summary>
    public static DeviceProfile Measure(string name, DeviceProfile template)
    {
        var speed = ReferenceWorkload.MeasureRelativeSpeed();
        var memoryMb = 0;
        foreach (var line in File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo") : [])
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                memoryMb = (int)(long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024);
            }
        }
        return template with
        {
            Name = name,
            Cores = Environment.ProcessorCount,
            MemoryMb = memoryMb > 0 ? memoryMb : template.MemoryMb,
            RelativeCpuSpeed = Math.Round(speed, 3),
        };
    }
}
