using System.Globalization;
using System.Text.RegularExpressions;
using EdgeSplit.Evaluation.PyTorch;
using EdgeSplit.Graph;
using EdgeSplit.Planning;
using EdgeSplit.Reports;
using EdgeSplit.Testbed.Config;
using EdgeSplit.Zoo;

namespace EdgeSplit.Evaluation.Tests;

/// <summary>
/// The bench's pytorch-rpc strategy: static's split over PyTorch RPC inside the namespace testbed's devices
/// (real Debian torch processes, real namespaces, cgroups and shaped links as root), and what it says
/// where it cannot run.
/// </summary>
public sealed partial class PyTorchBenchTests
{
    private static string Repo([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    private static Experiment TwoPis(IReadOnlyList<Strategy> strategies, bool inProcess) =>
        new(["squeezenet"], TestbedSpec.Load(Path.Combine(Repo(), "examples", "testbeds", "two-pi.yaml")), new Scenario("stable", TimeSpan.FromSeconds(3), []),
            strategies, Duration: TimeSpan.FromSeconds(3), Concurrency: 2, Title: "pytorch-rpc test") { ForceInProcess = inProcess };

    [SkippableFact]
    public async Task Pytorch_rpc_runs_statics_split_inside_the_namespace_testbed_with_outputs_matching_edgesplit()
    {
        Skip.IfNot(EdgeSplit.Testbed.RunningTestbed.CanUseNamespaces, "needs root with iproute2 (ip, tc) and cgroups: run the tests as root (CI does) to exercise the namespace testbed");
        Skip.If(PyTorchEnvironment.TryFind(out var reason) is null, reason);

        var report = await new ExperimentRunner(TwoPis([Strategy.PytorchRpc], inProcess: false)).RunAsync();

        var result = Assert.Single(report.Results);
        Assert.Equal(Strategy.PytorchRpc, result.Strategy);
        Assert.Equal("pytorch-rpc", result.Strategy.Name());
        Assert.True(result.Latencies.Count >= 20, $"{result.Latencies.Count} frames served");
        Assert.Equal(0, result.Failed);
        Assert.True(result.ThroughputPerS > 0 && result.P50Ms > 0 && result.EnergyPerInferenceJ > 0);
        // Only the devices of static's plan worked.
        Assert.Contains(result.Devices, d => d.CpuPercent > 0);
        var note = report.ClosingNote!;
        Assert.Contains("inside its device's namespace and cgroups", note);
        var diff = double.Parse(MaxDiff().Match(note).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(diff, 0, 1e-4);
    }

    [SkippableFact]
    public async Task Pytorch_rpc_gets_the_same_camera_as_edgesplit_every_frame_answered_dropped_or_failed_and_counted()
    {
        Skip.IfNot(EdgeSplit.Testbed.RunningTestbed.CanUseNamespaces, "needs root with iproute2 (ip, tc) and cgroups: run the tests as root (CI does) to exercise the namespace testbed");
        Skip.If(PyTorchEnvironment.TryFind(out var reason) is null, reason);
        var camera = new FrameWorkload(10, TimeSpan.FromMilliseconds(200), 2, TimeSpan.FromSeconds(5));

        var report = await new ExperimentRunner(TwoPis([Strategy.PytorchRpc], inProcess: false) with { Workload = camera }).RunAsync();

        var result = Assert.Single(report.Results);
        var frames = result.Frames!;
        // 10 frames/s for the run's 3 s, on the devices' clock (the driver's rate was stretched by the dilation).
        Assert.Equal((30, 10.0, 200.0, 2), (frames.Captured, frames.Fps, frames.DeadlineMs, frames.MaxInFlight));
        Assert.Equal(frames.Captured, result.Latencies.Count + frames.Dropped + frames.Failed);
        Assert.True(frames.Late <= result.Latencies.Count);
        Assert.Equal(100.0 * (frames.Late + frames.Dropped + frames.Failed) / frames.Captured, frames.MissPercent, 6);
        Assert.True(frames.AchievedFps > 0 && frames.AchievedFps <= 10 * 1.5, $"{frames.AchievedFps} fps");
    }

    [SkippableFact]
    public async Task Pytorch_rpc_on_the_in_process_emulation_is_skipped_with_the_reason_not_a_crash()
    {
        var report = await new ExperimentRunner(TwoPis([Strategy.PytorchRpc], inProcess: true)).RunAsync();

        Assert.Empty(report.Results);
        // Without torch the reason is what to install; with it, that the namespace testbed is needed.
        Assert.Matches(PyTorchEnvironment.TryFind(out _) is null ? "squeezenet/pytorch-rpc skipped: .*apt-get install" : "squeezenet/pytorch-rpc skipped: pytorch-rpc runs its workers inside the namespace testbed", report.ClosingNote!);
    }

    [Fact]
    public void A_plan_boundary_inside_a_block_runs_at_the_nearest_module_boundary_and_coinciding_cuts_merge()
    {
        var model = OnnxModel.FromProto(ModelZoo.Build("squeezenet"), "squeezenet");
        var n = model.Cuts.Count;
        var usable = new[] { 3, 10, n - 5 };
        var inside = model.Cuts[11];
        var plan = new Plan(1, [new Stage("a", 0, inside.AfterNode), new Stage("b", inside.AfterNode + 1, model.Cuts[12].AfterNode), new Stage("c", model.Cuts[12].AfterNode + 1, 999)]);

        var (cuts, devices, moved) = PyTorchOnTestbed.MapPlan(model, plan, usable);

        Assert.Equal([10], cuts);
        Assert.Equal(["a", "b"], devices);
        Assert.Contains(moved, m => m.StartsWith("cut 11 ", StringComparison.Ordinal) && m.Contains("cut 10", StringComparison.Ordinal));
        Assert.Contains(moved, m => m.Contains("ran as one on b", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"max abs diff ([0-9.]+(?:e[+-]?[0-9]+)?)")]
    private static partial Regex MaxDiff();
}
