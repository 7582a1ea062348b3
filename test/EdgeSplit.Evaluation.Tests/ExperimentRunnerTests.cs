using System.Text.Json;
using EdgeSplit.Reports;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Evaluation.Tests;

/// <summary>A short real run: in-process agents on loopback (the fallback), real ORT, real gRPC, real report files.</summary>
public sealed class ExperimentRunnerTests
{
    private static string Repo([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    [Fact]
    public async Task A_short_stable_run_writes_every_key_plots_and_a_verdict_first_report_with_no_failed_request()
    {
        var testbed = TestbedSpec.Load(Path.Combine(Repo(), "examples", "testbeds", "three-device.yaml"));
        var stable = new Scenario("stable", TimeSpan.FromSeconds(4), []);
        var experiment = new Experiment(["squeezenet"], testbed, stable, [Strategy.Static, Strategy.Optimal], Duration: TimeSpan.FromSeconds(4), Title: "test run");
        var frames = 0;
        var report = await new ExperimentRunner(experiment, new SyncProgress<LiveFrame>(_ => Interlocked.Increment(ref frames))).RunAsync();

        Assert.Equal(2, report.Results.Count);
        Assert.True(frames > 0, "the runner reported no progress");
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
        var experiment = new Experiment(["squeezenet"], testbed, flaky, [Strategy.Single, Strategy.Greedy], Duration: TimeSpan.FromSeconds(6), Title: "kill test");
        var report = await new ExperimentRunner(experiment).RunAsync();

        Assert.Equal(3, report.Events.Count);
        foreach (var result in report.Results)
        {
            Assert.Equal(0, result.Failed);
            Assert.Equal(result.Requests, result.Latencies.Count);
        }
    }

    [Fact]
    public void Conditions_follow_the_scenario_on_the_compressed_clock()
    {
        var testbed = TestbedSpec.Load(Path.Combine(Repo(), "examples", "testbeds", "three-device.yaml"));
        var mixed = Scenario.Load(Path.Combine(Repo(), "examples", "scenarios", "mixed.yaml"));
        var conditions = new EmulatedConditions(testbed, mixed, 0.25);

        // mixed.yaml: camera-jetson drops to 2 Mbit/s at 10 s, jetson dies at 60 s and returns at 85 s.
        Assert.Equal(20, conditions.At(TimeSpan.FromSeconds(2)).Links.Single(l => l.A == "camera" && l.B == "jetson").BandwidthMbps);
        Assert.Equal(2, conditions.At(TimeSpan.FromSeconds(2.6)).Links.Single(l => l.A == "camera" && l.B == "jetson").BandwidthMbps);
        Assert.False(conditions.At(TimeSpan.FromSeconds(16)).Devices.Single(d => d.Name == "jetson").Alive);
        Assert.True(conditions.At(TimeSpan.FromSeconds(22)).Devices.Single(d => d.Name == "jetson").Alive);
        Assert.Equal(0.5, conditions.At(TimeSpan.FromSeconds(6)).Devices.Single(d => d.Name == "jetson").CpuAvailability, 3);
        Assert.Equal(1, conditions.At(TimeSpan.FromSeconds(13)).Devices.Single(d => d.Name == "jetson").CpuAvailability, 3);
    }

    private sealed class SyncProgress<T>(Action<T> onReport) : IProgress<T>
    {
        public void Report(T value) => onReport(value);
    }
}
