using System.Text.Json;
using EdgeSplit.Reports;
using EdgeSplit.Testbed;
using EdgeSplit.Testbed.Calibration;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Evaluation.Tests;

/// <summary>Short real runs: real agents (in this process, or as root in namespaces), real ORT, real gRPC, real report files.</summary>
public sealed class ExperimentRunnerTests
{
    private const string NeedsRoot = "needs root with iproute2 (ip, tc) and cgroups: run the tests as root (CI does) to exercise the namespace testbed";

    private static string Repo([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    [Fact]
    public async Task A_short_stable_run_writes_every_key_plots_and_a_verdict_first_report_with_no_failed_request()
    {
        var testbed = TestbedSpec.Load(Path.Combine(Repo(), "examples", "testbeds", "three-device.yaml"));
        var stable = new Scenario("stable", TimeSpan.FromSeconds(4), []);
        var experiment = new Experiment(["squeezenet"], testbed, stable, [Strategy.Static, Strategy.Optimal], Duration: TimeSpan.FromSeconds(4), Title: "test run") { ForceInProcess = true };
        var frames = 0;
        var report = await new ExperimentRunner(experiment, new SyncProgress<LiveFrame>(_ => Interlocked.Increment(ref frames))).RunAsync();

        Assert.Equal(2, report.Results.Count);
        Assert.True(frames > 0, "the runner reported no progress");
        Assert.EndsWith("(in-process emulation (no namespaces))", report.Title);
        Assert.Contains("in-process emulation (in-process requested", report.Host);
        foreach (var result in report.Results)
        {
            Assert.Equal(0, result.Failed);
            Assert.True(result.Latencies.Count > 0, $"{result.Strategy}: nothing served");
            Assert.True(result.EnergyEstimated);
            Assert.True(result.EnergyPerInferenceJ > 0);
        }

        var dir = Path.Combine(Path.GetTempPath(), "edgesplit-eval-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            ReportWriter.Write(report, dir);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json")));
            var records = json.RootElement.ValueKind == JsonValueKind.Array ? json.RootElement : json.RootElement.EnumerateObject().First(p => p.Value.ValueKind == JsonValueKind.Array).Value;
            Assert.Equal(2, records.GetArrayLength());
            foreach (var record in records.EnumerateArray())
            {
                foreach (var key in new[] { "model", "strategy", "p50_ms", "p95_ms", "p99_ms", "throughput_per_s", "energy_per_inference_j", "energy_estimated", "failed", "repartitions" })
                {
                    Assert.True(record.TryGetProperty(key, out _), $"results.json lacks {key}");
                }
            }
            Assert.True(File.Exists(Path.Combine(dir, "results.csv")));
            var pngs = Directory.GetFiles(dir, "*.png");
            Assert.NotEmpty(pngs);
            Assert.All(pngs, p => Assert.True(new FileInfo(p).Length > 1000, $"{p} is empty"));
            var markdown = File.ReadAllText(Path.Combine(dir, "report.md"));
            Assert.Contains("verdict", markdown.Split('\n').Take(6).Aggregate((a, b) => a + b), StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_device_killed_and_revived_mid_run_loses_no_request_while_a_plan_fits()
    {
        var testbed = TestbedSpec.Load(Path.Combine(Repo(), "examples", "testbeds", "three-device.yaml"));
        // The camera (source) stays, so a plan always fits; a scenario slower than the test's clock would hide the kill.
        var flaky = new Scenario("flaky", TimeSpan.FromSeconds(6), [
            new KillDeviceEvent(TimeSpan.FromSeconds(2), "jetson"),
            new SetLinkEvent(TimeSpan.FromSeconds(3), "camera", "laptop", 1, 30),
            new ReviveDeviceEvent(TimeSpan.FromSeconds(4), "jetson"),
        ]);
        var experiment = new Experiment(["squeezenet"], testbed, flaky, [Strategy.Single, Strategy.Greedy], Duration: TimeSpan.FromSeconds(6), Title: "kill test") { ForceInProcess = true };
        var report = await new ExperimentRunner(experiment).RunAsync();

        Assert.Equal(3, report.Events.Count);
        foreach (var result in report.Results)
        {
            Assert.Equal(0, result.Failed);
            Assert.Equal(result.Requests, result.Latencies.Count);
        }
    }

    [SkippableFact]
    public async Task As_root_the_runner_serves_on_the_namespace_testbed_and_says_so()
    {
        Skip.IfNot(EdgeSplit.Testbed.RunningTestbed.CanUseNamespaces, NeedsRoot);
        var testbed = TestbedSpec.Load(Path.Combine(Repo(), "examples", "testbeds", "proposal.yaml"));
        var wobble = new Scenario("wobble", TimeSpan.FromSeconds(5), [
            new SetLinkEvent(TimeSpan.FromSeconds(1), "camera", "jetson-1", 10, 5),
            new CpuLoadEvent(TimeSpan.FromSeconds(2), "camera", 2, TimeSpan.FromSeconds(2)),
        ]);
        var experiment = new Experiment(["squeezenet"], testbed, wobble, [Strategy.Static], Duration: TimeSpan.FromSeconds(5), Title: "namespace run");
        var report = await new ExperimentRunner(experiment).RunAsync();

        Assert.EndsWith("(namespace testbed (agent processes, tc, cgroups))", report.Title);
        Assert.Contains("namespace testbed", report.Host);
        var result = report.Results.Single();
        Assert.Equal(0, result.Failed);
        Assert.True(result.Latencies.Count > 0);
        Assert.Equal(2, report.Events.Count);
    }

    [Fact]
    public void Conditions_follow_the_scenario_on_the_compressed_and_dilated_clock()
    {
        var testbed = TestbedSpec.Load(Path.Combine(Repo(), "examples", "testbeds", "proposal.yaml"));
        var mixed = Scenario.Load(Path.Combine(Repo(), "examples", "scenarios", "proposal", "mixed.yaml"));
        var host = new HostCalibration("h", 2, "r", "m", DateTimeOffset.UnixEpoch, new Dictionary<string, double> { ["mobilenetv2"] = 4.6, ["resnet18"] = 20, ["squeezenet"] = 3 });
        var emulation = TestbedEmulation.Plan(testbed, host, "mobilenetv2", dilation: new TimeDilation(2));
        var conditions = new EmulatedConditions(emulation, mixed, 0.5);

        // mixed.yaml: the camera's Wi-Fi falls to 3 Mbit/s at 15 s; jetson-1 dies at 38 s and returns at 48 s;
        // two jobs share the camera Pi's 4 cores from 10 s to 25 s. Run time = scenario time x 0.5 x 2.
        Assert.Equal(25, conditions.At(TimeSpan.FromSeconds(14.9)).Links.Single(l => l.A == "camera" && l.B == "jetson-1").BandwidthMbps);
        Assert.Equal(3, conditions.At(TimeSpan.FromSeconds(15.1)).Links.Single(l => l.A == "camera" && l.B == "jetson-1").BandwidthMbps);
        Assert.False(conditions.At(TimeSpan.FromSeconds(40)).Devices.Single(d => d.Name == "jetson-1").Alive);
        Assert.True(conditions.At(TimeSpan.FromSeconds(49)).Devices.Single(d => d.Name == "jetson-1").Alive);
        Assert.Equal(4.0 / 6, conditions.At(TimeSpan.FromSeconds(12)).Devices.Single(d => d.Name == "camera").CpuAvailability, 6);
        Assert.Equal(1, conditions.At(TimeSpan.FromSeconds(26)).Devices.Single(d => d.Name == "camera").CpuAvailability, 6);

        // The planners see the devices and links on the same dilated clock: half the speed, half the bandwidth, twice the RTT.
        var state = conditions.StateOf(conditions.At(TimeSpan.Zero), new EdgeSplit.Planning.SegmentProfile([1.0, 1, 1, 1], [1L, 1, 1, 1], [1L, 1, 1], 1, 1));
        Assert.Equal(4.6 / 61.88 / 2, state.Devices.Single(d => d.Name == "camera").RelativeSpeed, 9);
        var wifi = state.Links.Single(l => l.From == "camera" && l.To == "jetson-1");
        Assert.Equal(100 * 125_000 / 2.0, wifi.BytesPerSecond, 6);
        Assert.Equal(2 * 2 * 2.0, wifi.RttMs, 6);
    }

    private sealed class SyncProgress<T>(Action<T> onReport) : IProgress<T>
    {
        public void Report(T value) => onReport(value);
    }
}
