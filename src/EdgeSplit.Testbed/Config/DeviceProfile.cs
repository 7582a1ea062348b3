using System.Globalization;
using System.Text;
using EdgeSplit.Cluster.Monitoring;

namespace EdgeSplit.Testbed.Config;

/// <summary>How a device reaches the others: the kind of radio or cable, its usable bandwidth and its energy cost.</summary>
public sealed record NetworkProfile(string Kind, double BandwidthMbps, double EnergyPerByteNj);

/// <summary>
/// A kind of edge device as the emulator and the cost model see it: cores and memory, its compute units
/// (CPU; GPU where the board has one) each with published reference latencies and power, which unit
/// runs inference unless a testbed file picks another, and its network.
/// </summary>
public sealed record DeviceProfile(
    string Name,
    int Cores,
    int MemoryMb,
    IReadOnlyList<ComputeUnit> Units,
    string DefaultUnit,
    NetworkProfile Network)
{
    /// <summary>Known network kinds; anything else is probably a typo.</summary>
    public static readonly IReadOnlyList<string> NetworkKinds = ["ethernet", "wifi", "wifi-5ghz", "wifi-2.4ghz", "lte", "5g", "loopback"];

    /// <summary>The named unit, or the default one when <paramref name="name"/> is null.</summary>
    public ComputeUnit Unit(string? name = null) =>
        Units.FirstOrDefault(u => u.Name == (name ?? DefaultUnit))
        ?? throw new ArgumentException($"profile {Name} has no compute unit '{name}'; it has {string.Join(", ", Units.Select(u => u.Name))}", nameof(name));

    /// <summary>Reads a profile file (see examples/profiles/).</summary>
    public static DeviceProfile Load(string file) => Read(YamlMap.Load(file, "device profile"));

    internal static DeviceProfile Read(YamlMap map)
    {
        if (map.Find("relative_cpu_speed") is { } legacy)
        {
            throw map.Error(legacy.Start.Line,
                "relative_cpu_speed (one CPU speed ratio) is replaced by compute units with published reference latencies; " +
                "write a 'compute:' section as in examples/profiles/rpi4.yaml, or run 'edgesplit testbed calibrate' on the board");
        }
        var name = map.String("name");
        var cores = map.Integer("cores", 1, 1024);
        var memoryMb = map.Integer("memory_mb", 16, 16 * 1024 * 1024);
        var compute = map.Map("compute");
        var units = new List<ComputeUnit>();
        foreach (var item in compute.ListOfMaps("units"))
        {
            var unitName = item.String("name");
            if (!ComputeUnit.Kinds.Contains(unitName))
            {
                throw item.Error(item.Find("name")!.Start.Line, $"compute unit '{unitName}' is unknown; use one of {string.Join(", ", ComputeUnit.Kinds)}");
            }
            if (units.Any(u => u.Name == unitName))
            {
                throw item.Error(item.Line, $"compute unit '{unitName}' is listed twice; keep one");
            }
            var referenceMs = item.NumberMap("reference_ms", [.. ReferenceModels.All], 0.001, 1e7);
            var parallelism = item.Has("parallelism") ? item.Integer("parallelism", 1, 1024) : unitName == "cpu" ? cores : 1;
            var idle = item.Number("idle_power_w", 0, 10_000);
            var active = item.Number("active_power_w", 0, 10_000);
            if (active < idle)
            {
                throw item.Error(item.Find("active_power_w")!.Start.Line, $"active_power_w ({active}) is below idle_power_w ({idle}); active must be at least idle");
            }
            item.RejectUnknownKeys();
            units.Add(new ComputeUnit(unitName, referenceMs, parallelism, idle, active));
        }
        if (units.Count == 0)
        {
            throw compute.Error(compute.Line, "compute.units is empty; list at least the cpu");
        }
        var defaultUnit = compute.OptionalString("default") ?? units[0].Name;
        if (units.All(u => u.Name != defaultUnit))
        {
            throw compute.Error(compute.Find("default")!.Start.Line, $"compute.default '{defaultUnit}' is not one of the units ({string.Join(", ", units.Select(u => u.Name))})");
        }
        compute.RejectUnknownKeys();
        var network = ReadNetwork(map.Map("network"));
        map.RejectUnknownKeys();
        return new DeviceProfile(name, cores, memoryMb, units, defaultUnit, network);
    }

    /// <summary>Reads a <c>network:</c> mapping (a profile's, or a testbed device's override).</summary>
    internal static NetworkProfile ReadNetwork(YamlMap net)
    {
        var kind = net.String("kind");
        if (!NetworkKinds.Contains(kind))
        {
            throw net.Error(net.Find("kind")!.Start.Line, $"{net.Name("kind")} '{kind}' is unknown; use one of {string.Join(", ", NetworkKinds)}");
        }
        var network = new NetworkProfile(kind, net.Number("bandwidth_mbps", 0.001, 1_000_000), net.Number("energy_per_byte_nj", 0, 1_000_000));
        net.RejectUnknownKeys();
        return network;
    }

    /// <summary>The fallback power model of a unit (default: the default unit).</summary>
    public PowerModel ToPowerModel(string? unit = null) => Unit(unit).ToPowerModel(Network);

    /// <summary>Writes this profile as YAML in the shipped files' layout (used by <c>testbed calibrate</c>).</summary>
    public string ToYaml(string comment)
    {
        static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
        var yaml = new StringBuilder();
        yaml.Append(CultureInfo.InvariantCulture, $"""
            # {comment}
            name: {Name}
            cores: {Cores}
            memory_mb: {MemoryMb}
            compute:
              default: {DefaultUnit}
              units:

            """);
        foreach (var unit in Units)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"    - name: {unit.Name}\n      parallelism: {unit.Parallelism}\n      reference_ms:\n");
            foreach (var (model, ms) in unit.ReferenceMs.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                yaml.Append(CultureInfo.InvariantCulture, $"        {model}: {F(ms)}\n");
            }
            yaml.Append(CultureInfo.InvariantCulture, $"      idle_power_w: {F(unit.IdlePowerW)}\n      active_power_w: {F(unit.ActivePowerW)}\n");
        }
        yaml.Append(CultureInfo.InvariantCulture, $"""
            network:
              kind: {Network.Kind}
              bandwidth_mbps: {F(Network.BandwidthMbps)}
              energy_per_byte_nj: {F(Network.EnergyPerByteNj)}

            """);
        return yaml.ToString();
    }
}
