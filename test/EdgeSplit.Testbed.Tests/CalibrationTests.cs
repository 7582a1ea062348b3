using EdgeSplit.Testbed.Calibration;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed.Tests;

/// <summary>Device speeds from published latencies against the host's own, and the dilation factor that fits them in the host.</summary>
public sealed class CalibrationTests : IDisposable
{
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "examples");
    private readonly string dir = Directory.CreateTempSubdirectory("es-calibration-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A host's figures as a calibration would record them (the numbers, not a measurement).</summary>
    private static HostCalibration Host(double mobilenetv2, double resnet18, double squeezenet) =>
        new("test host", 2, "test", "test", DateTimeOffset.UnixEpoch, new Dictionary<string, double> { ["mobilenetv2"] = mobilenetv2, ["resnet18"] = resnet18, ["squeezenet"] = squeezenet });

    [Fact]
    public void The_served_model_runs_at_its_published_latency_and_others_at_the_geometric_mean()
    {
        var pi = DeviceProfile.Load(Path.Combine(Examples, "profiles", "rpi4.yaml")).Unit();
        var host = Host(4, 20, 3);

        var served = UnitSpeed.Of(pi, host, "mobilenetv2");
        Assert.Equal(4 / 61.88, served.HostCores, 9);
        Assert.Equal("mobilenetv2", served.Basis);

        var other = UnitSpeed.Of(pi, host, "inceptionv3");
        var expected = Math.Pow(4 / 61.88 * (20 / 123.12) * (3 / 46.65), 1.0 / 3);
        Assert.Equal(expected, other.HostCores, 9);
        Assert.StartsWith("geometric mean of mobilenetv2, resnet18, squeezenet", other.Basis);
    }

    [Fact]
    public void A_testbed_that_fits_the_host_is_not_dilated_and_one_that_does_not_is_slowed_to_fit()
    {
        var spec = TestbedSpec.Load(Path.Combine(Examples, "testbeds", "proposal.yaml"));
        var host = Host(4.6, 19.8, 3.1);
        var fits = TestbedEmulation.Plan(spec, host, "mobilenetv2", hostCores: 2);
        Assert.False(fits.Dilation.IsDilated);
        Assert.Equal(61.88, fits.Device("camera").EmulatedMs(host, "mobilenetv2"), 6);

        // Sixteen devices (eight Pis, eight Jetson GPUs) need ~3 host cores at once: on 2 cores (1.5 after headroom) they run dilated.
        var sixteen = Sixteen(spec);
        var dilated = TestbedEmulation.Plan(sixteen, host, "mobilenetv2", hostCores: 2);
        var demand = sixteen.Devices.Sum(d => UnitSpeed.Of(d.Unit, host, "mobilenetv2").HostCores);
        Assert.True(demand > 1.5, $"demand {demand}");
        Assert.InRange(dilated.Dilation.Factor, demand / 1.5, (demand / 1.5) + 0.05);
        Assert.True(dilated.DemandCores <= 1.5 + 1e-9, $"quotas add up to {dilated.DemandCores}");
        // Every device's latency, divided back by the factor, is still its published figure.
        Assert.All(dilated.Devices, d => Assert.Equal(d.Unit.ReferenceMs["mobilenetv2"], dilated.Dilation.ReportMs(d.EmulatedMs(host, "mobilenetv2")), 6));
    }

    [Fact]
    public void Dilation_stretches_timers_and_slows_rates_by_one_factor()
    {
        var k = new TimeDilation(2.5);
        Assert.Equal(TimeSpan.FromSeconds(25), k.Stretch(TimeSpan.FromSeconds(10)));
        Assert.Equal(40, k.Slow(100));
        Assert.Equal(10, k.ReportMs(25));
        var options = k.Apply(new EdgeSplit.Cluster.Coordinator.CoordinatorOptions { AttemptTimeout = TimeSpan.FromSeconds(2), MetricsInterval = TimeSpan.FromMilliseconds(500) });
        Assert.Equal(TimeSpan.FromSeconds(5), options.AttemptTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(1250), options.MetricsInterval);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TimeDilation(0.5));
    }

    [Fact]
    public void The_host_is_measured_once_with_onnx_runtime_and_then_read_from_its_cache()
    {
        var cache = Path.Combine(dir, "host.json");
        var measured = HostCalibration.LoadOrMeasure(cacheFile: cache);
        Assert.True(File.Exists(cache));
        Assert.All(ReferenceModels.Measured, m => Assert.True(measured.CpuMs[m] > 0, m));
        // ResNet18 does ~6x MobileNetV2's multiply-adds: on any CPU it takes longer.
        Assert.True(measured.CpuMs["resnet18"] > measured.CpuMs["mobilenetv2"]);
        Assert.Equal(measured.MeasuredAt, HostCalibration.LoadOrMeasure(cacheFile: cache).MeasuredAt);
        File.WriteAllText(cache, "{ not json");
        Assert.NotEqual(measured.MeasuredAt, HostCalibration.LoadOrMeasure(cacheFile: cache).MeasuredAt);
    }

    /// <summary>The proposal's boards, eight of each, all on one switch, the first Pi the camera.</summary>
    internal static TestbedSpec Sixteen(TestbedSpec proposal)
    {
        var pi = proposal.Device("pi-2");
        var jetson = proposal.Device("jetson-1");
        var devices = Enumerable.Range(0, 8).SelectMany(i => new[] { pi with { Name = $"pi-{i}" }, jetson with { Name = $"jetson-{i}" } }).ToList();
        var links = devices.Skip(1).Select(d => new TestbedLink("pi-0", d.Name, 940, 0.1)).ToList();
        return new TestbedSpec("sixteen", "pi-0", devices, links);
    }
}
