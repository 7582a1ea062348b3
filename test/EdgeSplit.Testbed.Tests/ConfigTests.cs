using EdgeSplit.Graph;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed.Tests;

public sealed class ConfigTests : IDisposable
{
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "examples");
    private readonly string dir = Directory.CreateTempSubdirectory("es-config-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData("rpi4")]
    [InlineData("jetson-nano")]
    [InlineData("laptop")]
    public void Shipped_profiles_load_with_sane_figures(string name)
    {
        var profile = DeviceProfile.Load(Path.Combine(Examples, "profiles", name + ".yaml"));
        Assert.Equal(name, profile.Name);
        Assert.InRange(profile.RelativeCpuSpeed, 0.05, 2);
        Assert.True(profile.PeakPowerW > profile.IdlePowerW);
        Assert.True(profile.Network.EnergyPerByteNj > 0);
    }

    [Fact]
    public void Three_device_testbed_loads_with_rpi4_as_source()
    {
        var spec = TestbedSpec.Load(Path.Combine(Examples, "testbeds", "three-device.yaml"));
        Assert.Equal("camera", spec.Source);
        Assert.Equal("rpi4", spec.Device("camera").Profile.Name);
        Assert.Equal(["jetson-nano", "laptop"], spec.Devices.Skip(1).Select(d => d.Profile.Name));
        Assert.Equal(3, spec.Links.Count);
        Assert.Equal(20, spec.Link("jetson", "camera")!.BandwidthMbps);
    }

    [Theory]
    [InlineData("stable", 0)]
    [InlineData("bandwidth-collapse", 2)]
    [InlineData("cpu-burst", 1)]
    [InlineData("device-failure", 2)]
    [InlineData("mixed", 8)]
    public void Shipped_scenarios_load_and_name_only_testbed_devices(string name, int eventCount)
    {
        var scenario = Scenario.Load(Path.Combine(Examples, "scenarios", name + ".yaml"));
        var spec = TestbedSpec.Load(Path.Combine(Examples, "testbeds", "three-device.yaml"));
        Assert.Equal(eventCount, scenario.Events.Count);
        Assert.All(scenario.Devices, d => Assert.Contains(spec.Devices, x => x.Name == d));
        Assert.Equal(scenario.Events.OrderBy(e => e.At), scenario.Events);
    }

    [Fact]
    public void Mixed_scenario_holds_every_kind_of_event()
    {
        var scenario = Scenario.Load(Path.Combine(Examples, "scenarios", "mixed.yaml"));
        Assert.Contains(scenario.Events, e => e is SetLinkEvent);
        Assert.Contains(scenario.Events, e => e is CpuLoadEvent);
        Assert.Contains(scenario.Events, e => e is TakeMemoryEvent);
        Assert.Contains(scenario.Events, e => e is KillDeviceEvent);
        Assert.Contains(scenario.Events, e => e is ReviveDeviceEvent);
    }

    [Theory]
    [InlineData("name: x\ncores: [1\n", ":3:", "not valid YAML")]
    [InlineData("name: x\ncores: four\nmemory_mb: 1\n", ":2:", "cores must be a number")]
    [InlineData("name: x\ncores: 4\nmemory_mb: 4096\nrelative_cpu_speed: 1\nidle_power_w: 5\npeak_power_w: 2\nnetwork: {kind: wifi, bandwidth_mbps: 1, energy_per_byte_nj: 1}\n", ":6:", "peak must be at least idle")]
    [InlineData("name: x\ncores: 4\nmemory_mb: 4096\nrelative_cpu_speed: 1\nidle_power_w: 1\npeak_power_w: 2\nnetwork: {kind: pigeon, bandwidth_mbps: 1, energy_per_byte_nj: 1}\n", ":7:", "network.kind 'pigeon' is unknown")]
    [InlineData("name: x\ncores: 4\nmemory_mb: 4096\nrelative_cpu_speed: 1\nidle_power_w: 1\npeak_power_w: 2\ncolour: red\nnetwork: {kind: wifi, bandwidth_mbps: 1, energy_per_byte_nj: 1}\n", ":7:", "unknown key 'colour'")]
    public void Bad_profile_yaml_is_refused_with_file_line_and_fix(string yaml, string line, string message)
    {
        var file = Path.Combine(dir, "bad.yaml");
        File.WriteAllText(file, yaml);
        var ex = Assert.Throws<BadInputException>(() => DeviceProfile.Load(file));
        Assert.Contains(file + line, ex.Message);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Testbed_link_to_an_unknown_device_is_refused()
    {
        var file = Path.Combine(dir, "tb.yaml");
        File.WriteAllText(file, $"""
            name: t
            source: a
            devices:
              - name: a
                profile: {Path.Combine(Examples, "profiles", "laptop.yaml")}
            links:
              - a: a
                b: ghost
                bandwidth_mbps: 10
                latency_ms: 1
            """);
        var ex = Assert.Throws<BadInputException>(() => TestbedSpec.Load(file));
        Assert.Contains(":8:", ex.Message);
        Assert.Contains("'ghost' is not a device", ex.Message);
    }

    [Fact]
    public void Scenario_event_with_two_actions_is_refused()
    {
        var file = Path.Combine(dir, "sc.yaml");
        File.WriteAllText(file, "name: s\nduration_s: 10\nevents:\n  - at_s: 1\n    kill: a\n    revive: a\n");
        var ex = Assert.Throws<BadInputException>(() => Scenario.Load(file));
        Assert.Contains(":4:", ex.Message);
        Assert.Contains("exactly one of", ex.Message);
    }

    [Fact]
    public void Calibrated_profile_yaml_reads_back_equal()
    {
        var profile = DeviceProfile.Load(Path.Combine(Examples, "profiles", "rpi4.yaml"));
        var file = Path.Combine(dir, "round.yaml");
        File.WriteAllText(file, profile.ToYaml("round trip"));
        Assert.Equal(profile, DeviceProfile.Load(file));
    }
}
