using EdgeSplit.Graph;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed.Tests;

public sealed class ConfigTests : IDisposable
{
    private const string Head = "name: x\ncores: 4\nmemory_mb: 4096\ncompute:\n  units:\n    - name: cpu\n      reference_ms: {mobilenetv2: 60}\n";
    private const string Net = "network: {kind: wifi, bandwidth_mbps: 1, energy_per_byte_nj: 1}\n";

    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "examples");
    private readonly string dir = Directory.CreateTempSubdirectory("es-config-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData("rpi4", "cpu")]
    [InlineData("jetson-nano", "gpu")]
    [InlineData("laptop", "cpu")]
    public void Shipped_profiles_give_every_unit_the_reference_models_and_power(string name, string defaultUnit)
    {
        var profile = DeviceProfile.Load(Path.Combine(Examples, "profiles", name + ".yaml"));
        Assert.Equal(name, profile.Name);
        Assert.Equal(defaultUnit, profile.Unit().Name);
        Assert.All(profile.Units, unit =>
        {
            Assert.Equal(ReferenceModels.All.Order(), unit.ReferenceMs.Keys.Order());
            Assert.True(unit.ActivePowerW > unit.IdlePowerW);
        });
        Assert.True(profile.Network.EnergyPerByteNj > 0);
    }

    [Fact]
    public void Published_figures_rank_the_units_as_the_benchmarks_do()
    {
        var pi = DeviceProfile.Load(Path.Combine(Examples, "profiles", "rpi4.yaml")).Unit();
        var nano = DeviceProfile.Load(Path.Combine(Examples, "profiles", "jetson-nano.yaml"));
        // ncnn's table: the Nano's GPU beats its CPU, which beats the Pi 4's CPU, on every reference model.
        foreach (var model in ReferenceModels.All)
        {
            Assert.True(nano.Unit("gpu").ReferenceMs[model] < nano.Unit("cpu").ReferenceMs[model], model);
            Assert.True(nano.Unit("cpu").ReferenceMs[model] < pi.ReferenceMs[model], model);
        }
        Assert.Equal(61.88, pi.ReferenceMs["mobilenetv2"]);
        Assert.Equal(12.99, nano.Unit("gpu").ReferenceMs["mobilenetv2"]);
    }

    [Fact]
    public void Proposal_testbed_has_wired_boards_and_the_camera_on_wifi()
    {
        var spec = TestbedSpec.Load(Path.Combine(Examples, "testbeds", "proposal.yaml"));
        Assert.Equal("camera", spec.Source);
        Assert.Equal(["rpi4", "rpi4", "jetson-nano", "jetson-nano"], spec.Devices.Select(d => d.Profile.Name));
        Assert.Equal("wifi-5ghz", spec.Device("camera").Profile.Network.Kind);
        Assert.Equal("ethernet", spec.Device("pi-2").Profile.Network.Kind);
        Assert.All(spec.Devices.Where(d => d.Profile.Name == "jetson-nano"), d => Assert.Equal("gpu", d.Unit.Name));
        Assert.All(spec.Links.Where(l => l.A == "camera" || l.B == "camera"), l => Assert.Equal(100, l.BandwidthMbps));
        Assert.All(spec.Links.Where(l => l.A != "camera" && l.B != "camera"), l => Assert.Equal(940, l.BandwidthMbps));
        Assert.Equal(6, spec.Links.Count);
    }

    [Fact]
    public void A_testbed_device_can_run_the_jetson_on_its_cpu_and_an_unknown_unit_is_refused()
    {
        var file = Path.Combine(dir, "units.yaml");
        File.WriteAllText(file, $"""
            name: t
            source: a
            devices:
              - name: a
                profile: {Path.Combine(Examples, "profiles", "jetson-nano.yaml")}
                unit: cpu
            """);
        Assert.Equal("cpu", TestbedSpec.Load(file).Device("a").Unit.Name);
        File.WriteAllText(file, File.ReadAllText(file).Replace("unit: cpu", "unit: npu", StringComparison.Ordinal));
        var ex = Assert.Throws<BadInputException>(() => TestbedSpec.Load(file));
        Assert.Contains(":6:", ex.Message);
        Assert.Contains("no compute unit 'npu'", ex.Message);
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
    [InlineData("proposal/wifi-fluctuation", 15)]
    [InlineData("proposal/cpu-contention", 2)]
    [InlineData("proposal/memory-pressure", 2)]
    [InlineData("proposal/device-failure", 2)]
    [InlineData("proposal/mixed", 17)]
    public void Shipped_scenarios_load_and_name_only_testbed_devices(string name, int eventCount)
    {
        var scenario = Scenario.Load(Path.Combine(Examples, "scenarios", name + ".yaml"));
        var spec = TestbedSpec.Load(Path.Combine(Examples, "testbeds", name.StartsWith("proposal/", StringComparison.Ordinal) ? "proposal.yaml" : "three-device.yaml"));
        Assert.Equal(eventCount, scenario.Events.Count);
        Assert.All(scenario.Devices, d => Assert.Contains(spec.Devices, x => x.Name == d));
        Assert.Equal(scenario.Events.OrderBy(e => e.At), scenario.Events);
    }

    [Theory]
    [InlineData("mixed")]
    [InlineData("proposal/mixed")]
    public void Mixed_scenarios_hold_every_kind_of_event(string name)
    {
        var scenario = Scenario.Load(Path.Combine(Examples, "scenarios", name + ".yaml"));
        Assert.Contains(scenario.Events, e => e is SetLinkEvent);
        Assert.Contains(scenario.Events, e => e is CpuLoadEvent);
        Assert.Contains(scenario.Events, e => e is TakeMemoryEvent);
        Assert.Contains(scenario.Events, e => e is KillDeviceEvent);
        Assert.Contains(scenario.Events, e => e is ReviveDeviceEvent);
    }

    [Theory]
    [InlineData("name: x\ncores: [1\n", ":3:", "not valid YAML")]
    [InlineData("name: x\ncores: four\nmemory_mb: 1\n", ":2:", "cores must be a number")]
    [InlineData("name: x\ncores: 4\nmemory_mb: 4096\nrelative_cpu_speed: 1\n", ":4:", "replaced by compute units")]
    [InlineData(Head + "      idle_power_w: 5\n      active_power_w: 2\n" + Net, ":9:", "active must be at least idle")]
    [InlineData(Head + "      idle_power_w: 1\n      active_power_w: 2\nnetwork: {kind: pigeon, bandwidth_mbps: 1, energy_per_byte_nj: 1}\n", ":10:", "network.kind 'pigeon' is unknown")]
    [InlineData(Head + "      idle_power_w: 1\n      active_power_w: 2\ncolour: red\n" + Net, ":10:", "unknown key 'colour'")]
    [InlineData("name: x\ncores: 4\nmemory_mb: 4096\ncompute:\n  units:\n    - name: cpu\n      reference_ms: {alexnt: 3}\n      idle_power_w: 1\n      active_power_w: 2\n" + Net, ":7:", "'alexnt' in compute.units[0].reference_ms is not a reference model")]
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
        var back = DeviceProfile.Load(file);
        Assert.Equal(profile.ToYaml("round trip"), back.ToYaml("round trip"));
        Assert.Equal(profile.Unit().ReferenceMs, back.Unit().ReferenceMs);
    }
}
