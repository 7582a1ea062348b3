using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed.Calibration;

/// <summary>Builds a device profile for the board this runs on (<c>edgesplit testbed calibrate</c>).</summary>
public static class BoardCalibration
{
    /// <summary>
    /// Times the reference models with ONNX Runtime on <paramref name="threads"/> threads (as the board's agent
    /// runs them; median wall time on an idle board, as the published figures are) and reads cores and memory.
    /// The measured unit is the CPU; power and network figures cannot be measured from software, so they are
    /// copied from <paramref name="template"/> and the caller must say so.
    /// </summary>
    public static DeviceProfile Measure(string name, DeviceProfile template, IReadOnlyList<string> models, int threads, CancellationToken cancel = default)
    {
        var timings = ReferenceTimer.TimeAll(models, threads, runs: 10, cancel);
        var memoryMb = 0;
        foreach (var line in File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo") : [])
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                memoryMb = (int)(long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024);
            }
        }
        var templateCpu = template.Units.FirstOrDefault(u => u.Name == "cpu") ?? template.Unit();
        var cpu = templateCpu with
        {
            Name = "cpu",
            ReferenceMs = timings.ToDictionary(t => t.Model, t => Math.Round(t.WallMs, 2)),
            Parallelism = Environment.ProcessorCount,
        };
        // The measured CPU replaces the template's; a GPU the template lists is kept (ONNX Runtime's CPU build cannot time it).
        return template with
        {
            Name = name,
            Cores = Environment.ProcessorCount,
            MemoryMb = memoryMb > 0 ? memoryMb : template.MemoryMb,
            Units = [cpu, .. template.Units.Where(u => u.Name != "cpu")],
            DefaultUnit = template.Units.Any(u => u.Name == template.DefaultUnit && u.Name != "cpu") ? template.DefaultUnit : "cpu",
        };
    }
}
