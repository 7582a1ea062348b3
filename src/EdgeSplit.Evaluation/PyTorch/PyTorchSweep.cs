using EdgeSplit.Reports;
using EdgeSplit.Testbed.Backends;

namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>
/// The sweep's PyTorch RPC side: on the same two emulated devices as EdgeSplit's, the whole model on each and
/// the model split at cuts PyTorch can split at (torchvision module boundaries, spread over the model), each
/// measured sequentially (one frame at a time: median latency) and pipelined (4 frames in flight, each worker
/// forwarding to the next: throughput), as ParetoPipe measures it.
/// </summary>
internal static class PyTorchSweep
{
    /// <summary>Split points per sweep; each costs two runs, each starting its Python processes.</summary>
    public const int MaxCuts = 10;

    private const int SequentialFrames = 8;
    private const int PipelinedFrames = 24;
    private const int InFlight = 4;

    public static async Task<(IReadOnlyList<SweepPoint> Points, IReadOnlyList<string> Notes)> RunAsync(string modelNameOrPath, PreparedModel model,
        ITestbedBackend backend, string source, string other, IProgress<LiveFrame>? progress, Action<string> log, CancellationToken ct)
    {
        PyTorchEnvironment environment;
        try
        {
            environment = await PyTorchEnvironment.EnsureAsync(log, ct);
        }
        catch (PyTorchUnavailableException ex)
        {
            return ([], [$"pytorch-rpc skipped: {ex.Message}"]);
        }
        using var testbed = PyTorchOnTestbed.TryAttach(backend, out var reason);
        if (testbed is null)
        {
            return ([], [$"pytorch-rpc skipped: {reason}"]);
        }
        var dilation = backend.Emulation.Dilation;
        var folder = Directory.CreateTempSubdirectory("edgesplit-pytorch-sweep-");
        try
        {
            var modelFile = PyTorchRuntime.ModelFile(modelNameOrPath, folder.FullName);
            var usable = (await new PyTorchRuntime(environment).MapCutsAsync(modelFile, ct)).Usable
                .Where(c => model.Onnx.Cuts[c].AfterNode < model.Profile.NodeCount - 1).ToList();
            var cuts = usable.Count <= MaxCuts ? usable : [.. Enumerable.Range(0, MaxCuts).Select(i => usable[(int)Math.Round(i * (usable.Count - 1) / (double)(MaxCuts - 1))]).Distinct()];
            var framesFile = Path.Combine(folder.FullName, "frames.f32");
            var frames = model.Data;
            PyTorchFrames.Write(framesFile, frames);
            var runtime = new PyTorchRuntime(environment, testbed.Launcher);
            List<(string Label, IReadOnlyList<int> Cuts, IReadOnlyList<string> Devices)> plans =
            [
                ($"all on {source}", [], [source]),
                .. cuts.Select(c => ($"cut {c} ({model.Onnx.Cuts[c].NodeName})", (IReadOnlyList<int>)[c], (IReadOnlyList<string>)[source, other])),
                ($"all on {other}", [], [other]),
            ];
            var points = new List<SweepPoint>();
            var maxDiff = 0.0;
            for (var i = 0; i < plans.Count; i++)
            {
                ct.ThrowIfCancellationRequested();
                var (label, planCuts, devices) = plans[i];
                progress?.Report(new LiveFrame(model.Name, Strategy.PytorchRpc, 1, 2, i, plans.Count, [], [], model.Profile.NodeCount, double.NaN, 0, 0, 0, $"pytorch-rpc {label}"));
                var options = testbed.Place(new PyTorchRpcOptions(modelFile, planCuts, [])
                {
                    FramesFile = framesFile,
                    Warmup = 2,
                    Deadline = TimeSpan.FromHours(1),
                    Timeout = TimeSpan.FromMinutes(10),
                }, backend.Emulation, source, devices);
                var sequential = await runtime.RunRpcAsync(options with { Schedule = PyTorchSchedule.Sequential, Frames = SequentialFrames, OutputsKept = 1 }, ct);
                var pipelined = await runtime.RunRpcAsync(options with { Schedule = PyTorchSchedule.Pipelined, InFlight = InFlight, Frames = PipelinedFrames, OutputsKept = 0 }, ct);
                maxDiff = Math.Max(maxDiff, PyTorchOutputCheck.Compare(model.Onnx, planCuts, frames, sequential.Outputs).MaxAbsDiff);
                points.Add(new SweepPoint(label, dilation.ReportMs(sequential.LatencyMs.P50 ?? double.NaN), pipelined.AchievedFps * dilation.Factor) { Runtime = SweepRuntimes.PyTorchRpc });
                log($"pytorch-rpc {label}: p50 {points[^1].SequentialLatencyMs:0.#} ms, {points[^1].PipelinedThroughputPerS:0.##}/s");
            }
            return (points,
            [
                $"pytorch-rpc (torch {environment.TorchVersion}, torchvision {environment.TorchvisionVersion}, BLAS {environment.Blas}): torchvision's model with the zoo's weights over torch.distributed.rpc " +
                $"(TensorPipe, TCP), the driver and the first worker on {source}, the second on {other}, each inside its device's namespace and cgroups with 1 torch thread, its compute stretched " +
                "to the device's published speed and each hop's one-way latency added, as EdgeSplit's agents do. " +
                $"Sequential latency is the median of {SequentialFrames} frames one at a time, pipelined throughput {PipelinedFrames} frames with {InFlight} in flight (each worker forwarding to the next), " +
                $"closed loop, after 2 warm-up frames; batch 1. {cuts.Count} of the {usable.Count} cuts at a torchvision module boundary (a cut inside a block has no PyTorch equivalent), " +
                $"plus the whole model on each device. Outputs against EdgeSplit's partitions on the same frame: max abs diff {maxDiff:0.###e+0}.",
            ]);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
