using EdgeSplit.Cluster.Monitoring;
using Microsoft.Extensions.Time.Testing;
using Prometheus;

namespace EdgeSplit.Cluster.Tests.Monitoring;

public sealed class PowerAndLinkTests : IDisposable
{
    private readonly string sys = Directory.CreateTempSubdirectory("es-sys-").FullName;

    public void Dispose() => Directory.Delete(sys, recursive: true);

    [Fact]
    public void Without_sensors_power_falls_back_to_the_model_labelled_estimated()
    {
        var model = new PowerModel(2.9, 6.4, 56);
        var source = PowerSources.Discover(sys, model);
        Assert.IsType<ModelPowerSource>(source);
        Assert.True(source!.Estimated);
        Assert.Contains("estimated", source.Source);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var monitor = new ResourceMonitor(new ResourceMonitorOptions { SysRoot = sys, PowerModel = model, TimeProvider = clock });
        clock.Advance(TimeSpan.FromMilliseconds(50));
        var reading = monitor.Sample().Power!;
        Assert.True(reading.Estimated);
        Assert.Contains("estimated", reading.Label);
        Assert.InRange(reading.Watts, 2.9, 6.4 + 1);
        // At least idle power over the 50 ms the clock moved.
        Assert.True(reading.EnergyJoules >= 2.9 * 0.05, $"{reading.EnergyJoules} J");
    }

    [Fact]
    public void Without_sensors_or_model_there_is_no_power_figure()
    {
        Assert.Null(PowerSources.Discover(sys, fallback: null));
        Assert.Null(new ResourceMonitor(new ResourceMonitorOptions { SysRoot = sys }).Sample().Power);
    }

    [Fact]
    public void Model_power_is_idle_plus_utilisation_share_plus_energy_per_byte()
    {
        var model = new PowerModel(2, 10, 100);
        var watts = new ModelPowerSource(model).ReadWatts(new PowerInputs(TimeSpan.FromSeconds(2), 0.5, 20_000_000))!.Value;
        // 2 + 8 * 0.5 = 6 W, plus 20 MB * 100 nJ = 2 J over 2 s = 1 W.
        Assert.Equal(7, watts, 6);
    }

    [Fact]
    public void Model_power_never_reads_below_idle_whatever_the_interval()
    {
        // Regression: energy / seconds rounded 2.9 W down to 2.8999999999999995 W for some intervals.
        var source = new ModelPowerSource(new PowerModel(2.9, 6.4, 56));
        for (var ticks = 1; ticks <= 2_000_000; ticks += 997)
        {
            Assert.Equal(2.9, source.ReadWatts(new PowerInputs(TimeSpan.FromTicks(ticks), 0, 0))!.Value);
        }
    }

    [Fact]
    public void Hwmon_power_inputs_are_read_as_a_real_sensor()
    {
        var dir = Directory.CreateDirectory(Path.Combine(sys, "class", "hwmon", "hwmon0")).FullName;
        File.WriteAllText(Path.Combine(dir, "name"), "ina219\n");
        File.WriteAllText(Path.Combine(dir, "power1_input"), "3250000\n");
        var source = PowerSources.Discover(sys, new PowerModel(1, 2, 0));
        Assert.IsType<HwmonPowerSource>(source);
        Assert.False(source!.Estimated);
        Assert.Equal("hwmon:ina219", source.Source);
        Assert.Equal(3.25, source.ReadWatts(new PowerInputs(TimeSpan.FromSeconds(1), 0, 0))!.Value, 6);
    }

    [Fact]
    public void Ina3221_rails_are_summed_from_voltage_times_current()
    {
        var dir = Directory.CreateDirectory(Path.Combine(sys, "class", "hwmon", "hwmon1")).FullName;
        File.WriteAllText(Path.Combine(dir, "name"), "ina3221\n");
        File.WriteAllText(Path.Combine(dir, "in1_input"), "5000\n");
        File.WriteAllText(Path.Combine(dir, "curr1_input"), "400\n");
        File.WriteAllText(Path.Combine(dir, "in2_input"), "5000\n");
        File.WriteAllText(Path.Combine(dir, "curr2_input"), "200\n");
        var watts = HwmonPowerSource.Discover(sys)!.ReadWatts(default)!.Value;
        Assert.Equal(3.0, watts, 6);
    }

    [Fact]
    public void Rapl_energy_counter_becomes_watts_across_a_wrap()
    {
        var dir = Directory.CreateDirectory(Path.Combine(sys, "class", "powercap", "intel-rapl:0")).FullName;
        Directory.CreateDirectory(Path.Combine(sys, "class", "powercap", "intel-rapl:0:0"));
        File.WriteAllText(Path.Combine(dir, "max_energy_range_uj"), "1000000\n");
        File.WriteAllText(Path.Combine(dir, "energy_uj"), "900000\n");
        var rapl = RaplPowerSource.Discover(sys)!;
        File.WriteAllText(Path.Combine(dir, "energy_uj"), "100000\n");
        // 0.9 J -> wrap at 1 J -> 0.1 J: 0.2 J in 0.5 s = 0.4 W.
        Assert.Equal(0.4, rapl.ReadWatts(new PowerInputs(TimeSpan.FromSeconds(0.5), 0, 0))!.Value, 6);
        Assert.False(rapl.Estimated);
    }

    [Fact]
    public void Link_bandwidth_is_learned_from_transfers_minus_latency_and_smoothed()
    {
        var clock = new FakeTimeProvider();
        var link = new LinkEstimator("jetson", smoothing: 0.5, idleProbeAfter: TimeSpan.FromSeconds(5), clock);
        Assert.True(link.ProbeDue);
        link.AddRtt(TimeSpan.FromMilliseconds(10));
        // 1 MB in 110 ms, minus 10 ms RTT = 10 MB/s.
        Assert.True(link.AddTransfer(1_000_000, TimeSpan.FromMilliseconds(110)));
        Assert.Equal(10e6, link.Current.BytesPerSecond!.Value, 1);
        Assert.True(link.AddTransfer(1_000_000, TimeSpan.FromMilliseconds(210)));
        Assert.Equal(7.5e6, link.Current.BytesPerSecond!.Value, 1);
        Assert.False(link.AddTransfer(100, TimeSpan.FromMilliseconds(10)));
        Assert.False(link.ProbeDue);
        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.True(link.ProbeDue);
        Assert.True(link.AddTransfer(1_000_000, TimeSpan.FromMilliseconds(110), isProbe: true));
        Assert.False(link.Current.ProbeDue);
    }

    [Fact]
    public async Task Prometheus_text_carries_the_estimated_label()
    {
        var registry = Metrics.NewCustomRegistry();
        var monitor = new ResourceMonitor(new ResourceMonitorOptions { SysRoot = sys, PowerModel = new PowerModel(1, 2, 0) });
        var links = new LinkEstimators();
        links.For("laptop").AddRtt(TimeSpan.FromMilliseconds(4));
        new MonitorMetrics("camera", registry).Follow(monitor, links);
        monitor.Sample();
        using var text = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(text);
        var body = System.Text.Encoding.UTF8.GetString(text.ToArray());
        Assert.Contains("edgesplit_power_watts{device=\"camera\",source=\"model (estimated)\",estimated=\"true\"}", body);
        Assert.Contains("edgesplit_link_rtt_seconds{device=\"camera\",peer=\"laptop\"} 0.004", body);
        Assert.Contains("edgesplit_cpu_utilisation_ratio{device=\"camera\"}", body);
        Assert.Contains("edgesplit_energy_joules_total{", body);
    }

    [Fact]
    public async Task Emulated_latency_is_applied_by_the_sender_and_reread_when_the_file_changes()
    {
        var file = Path.Combine(sys, "links.json");
        EmulatedLinks.Write(file, new EmulatedLinksFile("camera", null, [new EmulatedLink("jetson", ["10.77.0.2"], 30, 20, ShapedByKernel: true)]));
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var links = EmulatedLinks.Open(file, clock);
        Assert.Equal(30, links.Find("http://10.77.0.2:5000")!.LatencyMs);
        Assert.Null(links.Find("10.9.9.9"));
        var send = links.BeforeSendAsync("10.77.0.2", 1_000_000, CancellationToken.None);
        clock.Advance(TimeSpan.FromMilliseconds(29));
        Assert.False(send.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await send.WaitAsync(TimeSpan.FromSeconds(10));
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(-10));
        EmulatedLinks.Write(file, new EmulatedLinksFile("camera", 2, [new EmulatedLink("jetson", ["10.77.0.2"], 0, 20, ShapedByKernel: true)]));
        // The file is looked at again once the re-check period has passed on the emulation's clock.
        clock.Advance(TimeSpan.FromMilliseconds(300));
        Assert.Equal(0, links.Find("jetson")!.LatencyMs);
        Assert.Equal(2, links.Current.CpuSlowdown);
    }

    [Fact]
    public async Task An_emulated_compute_ends_its_cpu_time_times_the_slowdown_after_it_started()
    {
        var file = Path.Combine(sys, "stretch.json");
        EmulatedLinks.Write(file, new EmulatedLinksFile("pi", 3, []));
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var links = EmulatedLinks.Open(file, clock);

        // 10 ms of CPU at slowdown 3 ends 30 ms after it started; 4 ms have passed (other tenants of the host
        // do not count), so 26 ms are left.
        var stretch = links.AfterComputeAsync(TimeSpan.FromMilliseconds(4), TimeSpan.FromMilliseconds(10), CancellationToken.None);
        clock.Advance(TimeSpan.FromMilliseconds(25));
        Assert.False(stretch.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await stretch.WaitAsync(TimeSpan.FromSeconds(10));

        // A compute the kernel already slowed past its stretch is not stretched further.
        Assert.True(links.AfterComputeAsync(TimeSpan.FromMilliseconds(40), TimeSpan.FromMilliseconds(10), CancellationToken.None).IsCompleted);
    }
}
