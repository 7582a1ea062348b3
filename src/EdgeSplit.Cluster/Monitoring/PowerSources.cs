using System.Globalization;

namespace EdgeSplit.Cluster.Monitoring;

/// <summary>What the power model needs from one sampling interval.</summary>
public readonly record struct PowerInputs(TimeSpan Interval, double CpuUtilisation, long BytesMoved);

/// <summary>A way to learn a device's power: a real sensor, or the profile's model (estimated).</summary>
public interface IPowerSource
{
    /// <summary>Names the sensor or says "model (estimated)".</summary>
    string Source { get; }

    bool Estimated { get; }

    /// <summary>Mean power over the interval that just ended, in watts; null if the sensor could not be read.</summary>
    double? ReadWatts(PowerInputs inputs);
}

/// <summary>The fallback: P = P_idle + (P_peak - P_idle) * utilisation + energy per byte moved. Always estimated.</summary>
public sealed class ModelPowerSource(PowerModel model) : IPowerSource
{
    public string Source => "model (estimated)";

    public bool Estimated => true;

    public PowerModel Model => model;

    // Mean power = CPU power + network energy spread over the interval. Not energy / seconds:
    // multiplying by the interval and dividing it back out rounds idle power below the model's floor.
    public double? ReadWatts(PowerInputs inputs) => inputs.Interval <= TimeSpan.Zero
        ? model.PowerW(inputs.CpuUtilisation)
        : model.PowerW(inputs.CpuUtilisation)
            + (inputs.BytesMoved * model.EnergyPerByteNj * 1e-9 / inputs.Interval.TotalSeconds);
}

/// <summary>
/// Linux powercap (Intel/AMD RAPL): the package domains' <c>energy_uj</c> counters, differenced
/// over the interval, with the counter's wrap-around at <c>max_energy_range_uj</c> handled.
/// </summary>
public sealed class RaplPowerSource : IPowerSource
{
    private readonly ProcText reader = new();
    private readonly (string Energy, long Range)[] domains;
    private readonly long?[] last;

    private RaplPowerSource((string, long)[] domains)
    {
        this.domains = domains;
        last = new long?[domains.Length];
        foreach (var _ in ReadWattsInternal(TimeSpan.Zero))
        {
        }
    }

    public string Source => "rapl";

    public bool Estimated => false;

    /// <summary>Finds package-level RAPL domains (intel-rapl:N, not their sub-zones) under <c>SYS/class/powercap</c>.</summary>
    public static RaplPowerSource? Discover(string sysRoot)
    {
        var dir = Path.Combine(sysRoot, "class", "powercap");
        if (!Directory.Exists(dir))
        {
            return null;
        }
        var reader = new ProcText();
        var domains = Directory.EnumerateDirectories(dir)
            .Where(d => Path.GetFileName(d).Count(c => c == ':') == 1)
            .Select(d => (Energy: Path.Combine(d, "energy_uj"), Range: reader.ReadLong(Path.Combine(d, "max_energy_range_uj")) ?? long.MaxValue))
            .Where(d => reader.ReadLong(d.Energy) is not null)
            .OrderBy(d => d.Energy, StringComparer.Ordinal)
            .ToArray();
        return domains.Length == 0 ? null : new RaplPowerSource(domains);
    }

    public double? ReadWatts(PowerInputs inputs)
    {
        double? total = null;
        foreach (var watts in ReadWattsInternal(inputs.Interval))
        {
            total = (total ?? 0) + watts;
        }
        return total;
    }

    private IEnumerable<double> ReadWattsInternal(TimeSpan interval)
    {
        for (var i = 0; i < domains.Length; i++)
        {
            var now = reader.ReadLong(domains[i].Energy);
            var previous = last[i];
            last[i] = now;
            if (now is null || previous is null || interval <= TimeSpan.Zero)
            {
                continue;
            }
            var delta = now.Value - previous.Value;
            if (delta < 0)
            {
                delta += domains[i].Range;
            }
            yield return delta * 1e-6 / interval.TotalSeconds;
        }
    }
}

/// <summary>
/// hwmon power monitors (INA219 on a Pi, INA3221 on a Jetson, and others): <c>power*_input</c> in µW,
/// or <c>in*_input</c> (mV) times <c>curr*_input</c> (mA) per channel; plus the IIO files of the
/// Jetson's ina3221x driver (<c>in_power*_input</c>, mW). Rails are summed.
/// </summary>
public sealed class HwmonPowerSource : IPowerSource
{
    private readonly ProcText reader = new();
    private readonly List<string> microwattFiles;
    private readonly List<(string MilliVolts, string MilliAmps)> voltageCurrentPairs;
    private readonly List<string> milliwattFiles;

    private HwmonPowerSource(string source, List<string> microwatt, List<(string, string)> pairs, List<string> milliwatt)
    {
        Source = source;
        microwattFiles = microwatt;
        voltageCurrentPairs = pairs;
        milliwattFiles = milliwatt;
    }

    public string Source { get; }

    public bool Estimated => false;

    public static HwmonPowerSource? Discover(string sysRoot)
    {
        var microwatt = new List<string>();
        var pairs = new List<(string, string)>();
        var milliwatt = new List<string>();
        var names = new List<string>();
        var hwmon = Path.Combine(sysRoot, "class", "hwmon");
        if (Directory.Exists(hwmon))
        {
            foreach (var dir in Directory.EnumerateDirectories(hwmon).Order(StringComparer.Ordinal))
            {
                var before = microwatt.Count + pairs.Count;
                microwatt.AddRange(Directory.EnumerateFiles(dir, "power*_input").Order(StringComparer.Ordinal));
                if (microwatt.Count == before)
                {
                    foreach (var current in Directory.EnumerateFiles(dir, "curr*_input").Order(StringComparer.Ordinal))
                    {
                        var index = Path.GetFileName(current)["curr".Length..^"_input".Length];
                        var voltage = Path.Combine(dir, $"in{index}_input");
                        if (File.Exists(voltage))
                        {
                            pairs.Add((voltage, current));
                        }
                    }
                }
                if (microwatt.Count + pairs.Count > before)
                {
                    names.Add(File.Exists(Path.Combine(dir, "name")) ? File.ReadAllText(Path.Combine(dir, "name")).Trim() : Path.GetFileName(dir));
                }
            }
        }
        var ina3221x = Path.Combine(sysRoot, "bus", "i2c", "drivers", "ina3221x");
        if (Directory.Exists(ina3221x))
        {
            foreach (var iio in Directory.EnumerateDirectories(ina3221x, "*", SearchOption.AllDirectories).Where(d => Path.GetFileName(d).StartsWith("iio:device", StringComparison.Ordinal)))
            {
                milliwatt.AddRange(Directory.EnumerateFiles(iio, "in_power*_input").Order(StringComparer.Ordinal));
            }
            if (milliwatt.Count > 0)
            {
                names.Add("ina3221x");
            }
        }
        return microwatt.Count + pairs.Count + milliwatt.Count == 0
            ? null
            : new HwmonPowerSource("hwmon:" + string.Join('+', names.Distinct()), microwatt, pairs, milliwatt);
    }

    public double? ReadWatts(PowerInputs inputs)
    {
        double watts = 0;
        var any = false;
        foreach (var file in microwattFiles)
        {
            if (reader.ReadLong(file) is { } uw)
            {
                watts += uw * 1e-6;
                any = true;
            }
        }
        foreach (var (mv, ma) in voltageCurrentPairs)
        {
            if (reader.ReadLong(mv) is { } v && reader.ReadLong(ma) is { } a)
            {
                watts += v * a * 1e-6;
                any = true;
            }
        }
        foreach (var file in milliwattFiles)
        {
            if (reader.ReadLong(file) is { } mw)
            {
                watts += mw * 1e-3;
                any = true;
            }
        }
        return any ? watts : null;
    }
}

/// <summary>Chooses the best power source a device has.</summary>
public static class PowerSources
{
    /// <summary>
    /// A real sensor if <paramref name="sysRoot"/> (normally <c>/sys</c>) has one (RAPL first, then
    /// hwmon/INA), otherwise the model (estimated), otherwise null when no model was given either.
    /// Emulated devices should pass <paramref name="preferModel"/>: the host's RAPL counts every device.
    /// </summary>
    public static IPowerSource? Discover(string sysRoot, PowerModel? fallback, bool preferModel = false)
    {
        if (!preferModel || fallback is null)
        {
            IPowerSource? sensor = RaplPowerSource.Discover(sysRoot);
            sensor ??= HwmonPowerSource.Discover(sysRoot);
            if (sensor is not null)
            {
                return sensor;
            }
        }
        return fallback is null ? null : new ModelPowerSource(fallback);
    }

    internal static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
