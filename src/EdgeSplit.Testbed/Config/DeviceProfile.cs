using EdgeSplit.Cluster.Monitoring;

namespace EdgeSplit.Testbed.Config;

/// <summary>How a device reaches the others: the kind of radio or cable, its usable bandwidth and its energy cost.</summary>
public sealed record NetworkProfile(string Kind, double BandwidthMbps, double EnergyPerByteNj);

/// <summary>
/// A kind of edge device as the emulator and the cost model see it. <see cref="RelativeCpuSpeed"/>
/// is the speed of one core relative to the reference (1.0 = the shipped <c>laptop</c> profile).
/// </summary>
public sealed record DeviceProfile(
    string Name,
    int Cores,
    int MemoryMb,
    double RelativeCpuSpeed,
    double IdlePowerW,
    double PeakPowerW,
    NetworkProfile Network)
{
    /// <summary>Known network kinds; anything else is probably a typo.</summary>
    public static readonly IReadOnlyList<string> NetworkKinds = ["ethernet", "wifi", "wifi-5ghz", "wifi-2.4ghz", "lte", "5g", "loopback"];

    /// <summary>The parameters of the fallback power model for this device.</summary>
    public PowerModel ToPowerModel() => new(IdlePowerW, PeakPowerW, Network.EnergyPerByteNj);

    /// <summary>Reads a profile file (see examples/profiles/).</summary>
    public static DeviceProfile Load(string file)
    {
        var map = YamlMap.Load(file, "device profile");
        return Read(map);
    }

    internal static DeviceProfile Read(YamlMap map)
    {
        var name = map.String("name");
        var cores = map.Integer("cores", 1, 1024);
        var memoryMb = map.Integer("memory_mb", 16, 16 * 1024 * 1024);
        var speed = map.Number("relative_cpu_speed", 0.001, 1000);
        var idle = map.Number("idle_power_w", 0, 10_000);
        var peak = map.Number("peak_power_w", 0, 10_000);
        if (peak < idle)
        {
            throw map.Error(map.Find("peak_power_w")!.Start.Line, $"peak_power_w ({peak}) is below idle_power_w ({idle}); peak must be at least idle");
        }
        var net = map.Map("network");
        var kind = net.String("kind");
        if (!NetworkKinds.Contains(kind))
        {
            throw net.Error(net.Find("kind")!.Start.Line, $"network.kind '{kind}' is unknown; use one of {string.Join(", ", NetworkKinds)}");
        }
        var network = new NetworkProfile(kind, net.Number("bandwidth_mbps", 0.001, 1_000_000), net.Number("energy_per_byte_nj", 0, 1_000_000));
        net.RejectUnknownKeys();
        map.RejectUnknownKeys();
        return new DeviceProfile(name, cores, memoryMb, speed, idle, peak, network);
    }

    /// <summary>Writes this profile as YAML in the shipped files' layout (used by <c>testbed calibrate</c>).</summary>
    public string ToYaml(string comment)
    {
        static string F(double v) => v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
        return $"""
            # {comment}
            name: {Name}
            cores: {Cores}
            memory_mb: {MemoryMb}
            relative_cpu_speed: {F(RelativeCpuSpeed)}
            idle_power_w: {F(IdlePowerW)}
            peak_power_w: {F(PeakPowerW)}
            network:
              kind: {Network.Kind}
              bandwidth_mbps: {F(Network.BandwidthMbps)}
              energy_per_byte_nj: {F(Network.EnergyPerByteNj)}

            """;
    }
}
