using System.Text.RegularExpressions;

namespace EdgeSplit.Testbed.Config;

/// <summary>
/// One emulated device: a name, the profile it behaves like, where it stands (metres, for plots) and the
/// compute unit it runs inference on (null: the profile's default, e.g. the Jetson Nano's GPU).
/// </summary>
public sealed record TestbedDevice(string Name, DeviceProfile Profile, double XMeters, double YMeters, string? UnitName = null)
{
    /// <summary>The compute unit inference runs on.</summary>
    public ComputeUnit Unit => Profile.Unit(UnitName);

    /// <summary>The fallback power model of the unit it runs on.</summary>
    public Cluster.Monitoring.PowerModel PowerModel => Unit.ToPowerModel(Profile.Network);
}

/// <summary>A symmetric link between two devices; <see cref="LatencyMs"/> is one way, so the RTT is twice it.</summary>
public sealed record TestbedLink(string A, string B, double BandwidthMbps, double LatencyMs)
{
    public bool Joins(string x, string y) => (A == x && B == y) || (A == y && B == x);
}

/// <summary>
/// A testbed file (see examples/testbeds/): the devices, the links between them, and the source
/// device where inputs (camera frames) originate.
/// </summary>
public sealed partial record TestbedSpec(
    string Name,
    string Source,
    IReadOnlyList<TestbedDevice> Devices,
    IReadOnlyList<TestbedLink> Links)
{
    public TestbedDevice Device(string name) => Devices.FirstOrDefault(d => d.Name == name)
        ?? throw new ArgumentException($"no device '{name}' in testbed '{Name}'", nameof(name));

    public TestbedLink? Link(string a, string b) => Links.FirstOrDefault(l => l.Joins(a, b));

    /// <summary>
    /// Reads a testbed file. A device's <c>profile</c> is either a profile name, looked up as
    /// <c>NAME.yaml</c> in <c>../profiles/</c> next to the file, in <c>profiles/</c> next to it,
    /// or in <paramref name="profileDirectory"/>, or a path to a profile file.
    /// </summary>
    public static TestbedSpec Load(string file, string? profileDirectory = null)
    {
        var map = YamlMap.Load(file, "testbed");
        var name = map.String("name");
        CheckName(map, "name", name);
        if (map.Find("host_relative_cpu_speed") is { } legacy)
        {
            throw map.Error(legacy.Start.Line, "host_relative_cpu_speed is no longer used: this host's speed is measured (ONNX Runtime latency of the reference models, cached); remove the line");
        }
        var devices = new List<TestbedDevice>();
        foreach (var item in map.ListOfMaps("devices"))
        {
            var deviceName = item.String("name");
            CheckName(item, "name", deviceName);
            if (devices.Any(d => d.Name == deviceName))
            {
                throw item.Error(item.Line, $"device '{deviceName}' is listed twice; give each device its own name");
            }
            var profileRef = item.String("profile");
            var profile = DeviceProfile.Load(ResolveProfile(item, file, profileRef, profileDirectory));
            double x = 0, y = 0;
            if (item.Sequence("position") is { } position)
            {
                if (position.Children.Count != 2)
                {
                    throw item.Error(position.Start.Line, $"{item.Name("position")} must be [x, y] in metres");
                }
                x = item.ParseNumber(position.Children[0], item.Name("position[0]"), -1e6, 1e6);
                y = item.ParseNumber(position.Children[1], item.Name("position[1]"), -1e6, 1e6);
            }
            if (item.Has("network"))
            {
                // The same board on another interface (a Pi on its Ethernet port instead of its Wi-Fi).
                profile = profile with { Network = DeviceProfile.ReadNetwork(item.Map("network")) };
            }
            var unit = item.OptionalString("unit");
            if (unit is not null && profile.Units.All(u => u.Name != unit))
            {
                throw item.Error(item.Find("unit")!.Start.Line, $"profile {profile.Name} has no compute unit '{unit}'; use one of {string.Join(", ", profile.Units.Select(u => u.Name))} (default {profile.DefaultUnit})");
            }
            item.RejectUnknownKeys();
            devices.Add(new TestbedDevice(deviceName, profile, x, y, unit));
        }
        if (devices.Count == 0)
        {
            throw map.Error(map.Line, "devices is empty; list at least one device");
        }
        var links = new List<TestbedLink>();
        foreach (var item in map.ListOfMaps("links", required: false))
        {
            var a = item.String("a");
            var b = item.String("b");
            foreach (var (key, end) in new[] { ("a", a), ("b", b) })
            {
                if (devices.All(d => d.Name != end))
                {
                    throw item.Error(item.Find(key)!.Start.Line, $"link end '{end}' is not a device; use one of {string.Join(", ", devices.Select(d => d.Name))}");
                }
            }
            if (a == b)
            {
                throw item.Error(item.Line, $"link joins '{a}' to itself; a link needs two different devices");
            }
            if (links.Any(l => l.Joins(a, b)))
            {
                throw item.Error(item.Line, $"there is already a link between '{a}' and '{b}'; keep one");
            }
            var link = new TestbedLink(a, b, item.Number("bandwidth_mbps", 0.01, 10_000), item.Number("latency_ms", 0, 10_000));
            item.RejectUnknownKeys();
            links.Add(link);
        }
        var source = map.String("source");
        if (devices.All(d => d.Name != source))
        {
            throw map.Error(map.Find("source")!.Start.Line, $"source '{source}' is not a device; use one of {string.Join(", ", devices.Select(d => d.Name))}");
        }
        map.RejectUnknownKeys();
        return new TestbedSpec(name, source, devices, links);
    }

    private static string ResolveProfile(YamlMap item, string file, string profileRef, string? profileDirectory)
    {
        var baseDir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var candidates = new List<string>();
        if (profileRef.EndsWith(".yaml", StringComparison.Ordinal) || profileRef.EndsWith(".yml", StringComparison.Ordinal))
        {
            candidates.Add(Path.Combine(baseDir, profileRef));
        }
        else
        {
            if (profileDirectory is not null)
            {
                candidates.Add(Path.Combine(profileDirectory, profileRef + ".yaml"));
            }
            candidates.Add(Path.Combine(baseDir, "..", "profiles", profileRef + ".yaml"));
            candidates.Add(Path.Combine(baseDir, "profiles", profileRef + ".yaml"));
        }
        return candidates.FirstOrDefault(File.Exists)
            ?? throw item.Error(item.Find("profile")!.Start.Line, $"profile '{profileRef}' not found (looked in {string.Join(", ", candidates.Select(Path.GetFullPath))}); name a shipped profile (rpi4, jetson-nano, laptop) or a .yaml path");
    }

    private static void CheckName(YamlMap map, string key, string value)
    {
        // Names become parts of namespace, interface and cgroup names, so keep them short and plain.
        if (!NamePattern().IsMatch(value))
        {
            throw map.Error(map.Find(key)!.Start.Line, $"{map.Name(key)} '{value}' must be 1-24 characters of a-z, 0-9 and '-', starting with a letter");
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,23}$")]
    private static partial Regex NamePattern();
}
