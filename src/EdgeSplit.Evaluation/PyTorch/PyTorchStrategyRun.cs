using EdgeSplit.Planning;
using EdgeSplit.Reports;
using EdgeSplit.Runtime.Providers;
using EdgeSplit.Testbed.Backends;

namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>
/// The bench's pytorch-rpc strategy (the proposal's pathway 2): the static strategy's plan, its cuts mapped to
/// torchvision module boundaries, run over <c>torch.distributed.rpc</c> with one worker inside each stage's
/// device and the driver on the source device feeding the frames EdgeSplit's strategies get: the same camera (rate,
/// bound on frames in flight, drops, deadline), or with --closed-loop as many in flight as that client keeps.
/// Times are divided back by the testbed's dilation.
/// Where PyTorch cannot run (not installed and not root, or no namespace testbed) the strategy is skipped and
/// the report says why.
/// </summary>
internal static class PyTorchStrategyRun
{
    /// <summary>Frames when no static run tells how many the bench's duration holds.</summary>
    private const int DefaultFrames = 60;

    public sealed record Outcome(StrategyResult? Result, string? Placement, IReadOnlyList<string> Notes);

    /// <summary>Runs it; <paramref name="modelNameOrPath"/> is the model as the bench was given it (a zoo name or an ONNX file).</summary>
    public static async Task<Outcome> RunAsync(Experiment experiment, string modelNameOrPath, ITestbedBackend backend, PreparedModel model, EmulatedConditions conditions,
        Objective objective, StrategyResult? staticResult, Action<string> log, CancellationToken ct)
    {
        PyTorchEnvironment environment;
        try
        {
            environment = await PyTorchEnvironment.EnsureAsync(log, ct);
        }
        catch (PyTorchUnavailableException ex)
        {
            return Skipped(model, ex.Message);
        }
        using var testbed = PyTorchOnTestbed.TryAttach(backend, out var reason);
        if (testbed is null)
        {
            return Skipped(model, reason);
        }
        await backend.ResetAsync(ct);
        var dilation = backend.Emulation.Dilation;
        var folder = Directory.CreateTempSubdirectory("edgesplit-pytorch-bench-");
        try
        {
            var runtime = new PyTorchRuntime(environment, testbed.Launcher);
            var modelFile = PyTorchRuntime.ModelFile(modelNameOrPath, folder.FullName);
            // Mapping cuts reads the file only: here, not on a device.
            var map = await new PyTorchRuntime(environment).MapCutsAsync(modelFile, ct);
            var state = conditions.StateOf(conditions.At(TimeSpan.Zero), model.Profile);
            // The same objective as EdgeSplit's static, so both runtimes run the same split.
            var plan = new StrategyPlanSource(Strategy.Static, () => state, experiment.PlanningObjective(objective, dilation), conditions.Windows(model.Profile), conditions.HostScale, experiment.Seed)
                .Decide(state, out _);
            var (cuts, devices, moved) = PyTorchOnTestbed.MapPlan(model.Onnx, plan, map.Usable);
            var frames = model.Data;
            var framesFile = Path.Combine(folder.FullName, "frames.f32");
            PyTorchFrames.Write(framesFile, frames);
            // The same frames as EdgeSplit's strategies: the camera (open loop at its rate, the same bound on frames in
            // flight, a frame due while that many are in the pipeline dropped, the same deadline from capture) for the
            // run's length; or, with --closed-loop, the same number in flight back to back.
            var camera = experiment.Workload?.Stretched(dilation.Factor);
            var inFlight = camera?.MaxInFlight ?? Math.Max(1, experiment.Concurrency);
            var count = experiment.Workload is { } w
                ? (int)Math.Clamp(Math.Round(w.Fps * experiment.RunDuration.TotalSeconds), 20, 3000)
                : staticResult is { ThroughputPerS: > 0 } s
                    ? (int)Math.Clamp(Math.Round(s.ThroughputPerS * experiment.RunDuration.TotalSeconds), 20, 600)
                    : DefaultFrames;
            var options = testbed.Place(new PyTorchRpcOptions(modelFile, cuts, [])
            {
                Schedule = inFlight > 1 ? PyTorchSchedule.Pipelined : PyTorchSchedule.Sequential,
                InFlight = inFlight,
                Route = PyTorchRoute.Chain,
                FramesPerSecond = camera?.Fps ?? 0,
                DropWhenFull = camera is not null,
                Deadline = camera?.Deadline ?? dilation.Stretch(experiment.Deadline),
                Frames = count,
                FramesFile = framesFile,
                Timeout = TimeSpan.FromMinutes(20),
            }, backend.Emulation, experiment.Testbed.Source, devices);
            log($"{model.Name}/pytorch-rpc: cuts {string.Join(',', cuts)} on {string.Join(" -> ", devices)}, {count} frames, {inFlight} in flight");
            var result = await runtime.RunRpcAsync(options, ct);
            var check = PyTorchOutputCheck.Compare(model.Onnx, cuts, frames, result.Outputs);
            var placement = string.Join(" | ", devices.Select((d, i) => $"{d}[{(i == 0 ? "input" : $"cut {cuts[i - 1]}")}..]"));
            return new Outcome(ToStrategyResult(experiment, model, result, devices, dilation), placement,
                [.. Notes(model, plan, cuts, devices, moved, result, check, environment, count, inFlight, dilation)]);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static Outcome Skipped(PreparedModel model, string reason) =>
        new(null, null, [$"{model.Name}/pytorch-rpc skipped: {reason}"]);

    private static StrategyResult ToStrategyResult(Experiment experiment, PreparedModel model, PyTorchRpcResult result, IReadOnlyList<string> devices, Testbed.TimeDilation dilation)
    {
        double Ms(double? hostMs) => hostMs is { } v ? dilation.ReportMs(v) : double.NaN;
        var seconds = dilation.Report(TimeSpan.FromSeconds(result.DurationSeconds)).TotalSeconds;
        // A worker's busy time: its stage computes, each stretched to its device's speed (host ms, summed).
        var busyMs = result.Workers.ToDictionary(w => devices[w.Stage], w => (w.ComputeMs.Mean ?? 0) * w.ComputeMs.Count);
        var computeJ = experiment.Testbed.Devices.Sum(d => busyMs.TryGetValue(d.Name, out var ms)
            ? EnergyModel.ComputeJ(new DevicePowerModel(d.Unit.IdlePowerW, d.Unit.ActivePowerW, 0, 0), dilation.ReportMs(ms))
            : 0);
        var chain = devices.Prepend(experiment.Testbed.Source).ToList();
        var transferJ = result.Hops.Select((hop, i) => (From: chain[i], To: chain[i + 1], Bytes: hop.PayloadBytes ?? 0))
            .Where(h => h.From != h.To)
            .Sum(h => EnergyModel.TransferJ(Power(experiment, h.From), Power(experiment, h.To), h.Bytes));
        return new StrategyResult(
            model.Name,
            Strategy.PytorchRpc,
            Ms(result.LatencyMs.P50),
            Ms(result.LatencyMs.P95),
            Ms(result.LatencyMs.P99),
            result.Completed / Math.Max(seconds, 1e-9),
            result.Completed > 0 ? (computeJ / result.Completed) + transferJ : double.NaN,
            EnergyEstimated: true,
            Failed: experiment.Workload is null ? result.DeadlineMisses : result.Failed,
            Repartitions: 0,
            DecisionMs: 0,
            SwitchMs: 0,
            Requests: result.Frames,
            [.. experiment.Testbed.Devices.Select(d => new DeviceUsage(d.Name,
                busyMs.TryGetValue(d.Name, out var ms) ? Math.Min(100, 100 * ms / Math.Max(result.DurationSeconds * 1000, 1e-9)) : 0,
                result.Workers.Where(w => devices[w.Stage] == d.Name).Sum(w => w.RssMb)))],
            [.. result.LatencySamples.Select(l => new LatencySample(l.TSeconds / dilation.Factor, dilation.ReportMs(l.LatencyMs)))])
        {
            Frames = experiment.Workload is not { } camera ? null : new FrameFigures(camera.Fps, camera.Deadline.TotalMilliseconds, camera.MaxInFlight,
                result.Frames, result.DeadlineMisses - result.Failed - result.Dropped, result.Dropped, result.Failed,
                100.0 * result.DeadlineMisses / Math.Max(1, result.Frames), result.Completed / Math.Max(seconds, 1e-9)),
        };
    }

    private static DevicePowerModel Power(Experiment experiment, string device)
    {
        var joulesPerByte = experiment.Testbed.Device(device).Profile.Network.EnergyPerByteNj * 1e-9;
        return new DevicePowerModel(0, 0, joulesPerByte, joulesPerByte);
    }

    private static IEnumerable<string> Notes(PreparedModel model, Plan plan, IReadOnlyList<int> cuts, IReadOnlyList<string> devices, IReadOnlyList<string> moved,
        PyTorchRpcResult result, OutputComparison check, PyTorchEnvironment environment, int count, int inFlight, Testbed.TimeDilation dilation)
    {
        var name = $"{model.Name}/pytorch-rpc";
        yield return $"{name}: PyTorch RPC (torch {environment.TorchVersion}, torchvision {environment.TorchvisionVersion}, BLAS {environment.Blas}; EdgeSplit on ONNX Runtime {OrtLibrary.Version}) " +
            $"ran static's plan ({plan.Signature()}) as cuts [{string.Join(", ", cuts)}] on {string.Join(" -> ", devices)}: one TensorPipe worker per stage inside its device's namespace and cgroups " +
            $"(1 torch thread, its compute stretched to the device's published speed and each hop's one-way latency added, as EdgeSplit's agents do), the driver on the source device; " +
            $"{count} frames of the frame EdgeSplit's client sends, " +
            (result.ClosedLoop
                ? $"closed loop with {inFlight} in flight"
                : $"open loop from the same camera ({result.Fps * dilation.Factor:0.#} frames/s, at most {inFlight} in flight, a frame due while they are dropped; {result.Dropped} dropped)") +
            $", each worker forwarding to the next, after {result.Warmup} warm-up frames.";
        foreach (var line in moved)
        {
            yield return $"{name}: {line}.";
        }
        yield return $"{name}: outputs of {check.Frames} frame(s) against EdgeSplit's partitions (ONNX Runtime) on the same frame: max abs diff {check.MaxAbsDiff:0.###e+0}.";
        var hops = string.Join("; ", result.Hops.Select(h => $"{h.From} -> {h.To} {h.PayloadBytes?.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) ?? "?"} B"));
        var stages = string.Join(", ", result.StageComputeMs.Select((s, i) => $"{devices[i]} p50 {dilation.ReportMs(s.P50 ?? double.NaN):0.#} ms"));
        yield return $"{name}: bytes handed to TensorPipe per frame (torch's pickle plus raw tensor bytes): {hops}. Stage compute (emulated clock): {stages}. " +
            "Its device CPU column is each worker's busy share (stretched compute over the run), its memory column the worker process's resident memory (Python and torch included), " +
            "where EdgeSplit's rows give the partition's weights.";
        if (dilation.IsDilated)
        {
            yield return $"{name}: times divided back by the testbed's dilation {dilation}.";
        }
    }
}
