using System.Runtime.InteropServices;
using EdgeSplit.Evaluation.PyTorch;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;

namespace EdgeSplit.Evaluation.Tests;

/// <summary>Zoo models written once for the PyTorch tests, with two seeded frames in EdgeSplit's frames file.</summary>
public sealed class PyTorchModels : IDisposable
{
    public PyTorchModels()
    {
        Environment = PyTorchEnvironment.TryFind(out var reason);
        SkipReason = reason;
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "edgesplit-pytorch-test-" + Guid.NewGuid().ToString("N"));

    public PyTorchEnvironment? Environment { get; }

    public string SkipReason { get; }

    private readonly Dictionary<string, (OnnxModel Model, string Path, IReadOnlyList<TensorData> Frames, string FramesFile)> _models = [];

    /// <summary>The zoo model's file, parsed model, and two seeded frames written to a frames file.</summary>
    public (OnnxModel Model, string Path, IReadOnlyList<TensorData> Frames, string FramesFile) Get(string name)
    {
        lock (_models)
        {
            if (!_models.TryGetValue(name, out var entry))
            {
                var path = PyTorchRuntime.ModelFile(name, Folder);
                var model = OnnxModel.Load(path);
                var shapes = InputShapes.Resolve(model, null);
                IReadOnlyList<TensorData> frames = [RandomInputs.Create(model, shapes, 1)[0], RandomInputs.Create(model, shapes, 2)[0]];
                var framesFile = System.IO.Path.Combine(Folder, name + ".f32");
                PyTorchFrames.Write(framesFile, frames);
                _models[name] = entry = (model, path, frames, framesFile);
            }
            return entry;
        }
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

/// <summary>
/// The PyTorch runtime on real parts: Debian's torch in separate processes, TensorPipe workers on
/// loopback, compared with EdgeSplit's chained ONNX Runtime partitions. Skipped, with the reason,
/// where python3-torch is not installed.
/// </summary>
public sealed class PyTorchRuntimeTests(PyTorchModels models) : IClassFixture<PyTorchModels>
{
    private const double Tolerance = 1e-4;

    private PyTorchRuntime Runtime(PyTorchLauncher? launcher = null)
    {
        Skip.If(models.Environment is null, models.SkipReason);
        return new PyTorchRuntime(models.Environment!, launcher);
    }

    [SkippableTheory]
    [InlineData("squeezenet")]
    [InlineData("mobilenetv2")]
    public async Task Every_mapped_cut_carries_the_tensor_edgesplit_sends_there_and_the_whole_model_matches(string name)
    {
        var runtime = Runtime();
        var (model, path, frames, framesFile) = models.Get(name);

        var map = await runtime.MapCutsAsync(path, CancellationToken.None);

        Assert.Equal(model.Cuts.Count, map.Cuts.Count);
        foreach (var (edgesplit, pytorch) in model.Cuts.Zip(map.Cuts))
        {
            Assert.Equal(edgesplit.Index, pytorch.Index);
            Assert.Equal(edgesplit.NodeName, pytorch.After);
            Assert.Equal(edgesplit.Tensors, pytorch.Tensors);
            // A module boundary carries one running tensor, plus any model output a side branch made (Inception's aux_logits).
            Assert.True(pytorch.Boundary is null || edgesplit.Tensors.Count(t => !model.OutputNames.Contains(t)) == 1,
                $"cut {pytorch.Index} maps to a boundary but carries {string.Join(", ", edgesplit.Tensors)}");
        }
        Assert.True(map.Usable.Count >= 10, $"{name}: only cuts {string.Join(',', map.Usable)} map to a module boundary");
        Assert.Contains(map.Cuts, c => c.Boundary is null && c.Reason!.StartsWith("inside ", StringComparison.Ordinal));

        var dump = Path.Combine(models.Folder, name + "-cuts");
        var single = await runtime.RunSingleAsync(new PyTorchSingleOptions(path, Threads: 1)
        {
            Frames = 2, Warmup = 0, FramesFile = framesFile, OutputsKept = 2, DumpCuts = map.Usable, DumpDirectory = dump,
        }, CancellationToken.None);

        Assert.Equal(model.ParameterCount, single.Weights.Parameters);
        Assert.Equal(single.Weights.Modules, single.Weights.NamesAgree);
        Assert.True(PyTorchOutputCheck.Compare(model, [], frames, single.Outputs).MaxAbsDiff <= Tolerance);
        var partitioner = new Partitioner(model);
        foreach (var cut in single.CutTensors!)
        {
            using var first = new ModelSession(partitioner.Split([cut.Index])[0].OnnxBytes);
            var sent = first.Run([frames[0]]).Single(t => t.Name == cut.Tensor);
            var carried = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(cut.Path));
            Assert.Equal(sent.Shape, cut.Shape);
            var diff = PyTorchOutputCheck.MaxAbsDiff(MemoryMarshal.Cast<byte, float>(sent.Data.Span), carried);
            Assert.True(diff <= Tolerance, $"{name} cut {cut.Index}: torch carries a tensor {diff} away from EdgeSplit's '{cut.Tensor}'");
        }
    }

    [SkippableFact]
    public async Task Squeezenet_on_two_loopback_workers_matches_edgesplit_chained_partitions_and_counts_its_bytes()
    {
        var runtime = Runtime();
        var (model, path, frames, framesFile) = models.Get("squeezenet");
        var cut = model.Cuts.Single(c => c.NodeName == "features.6.cat").Index;
        var options = new PyTorchRpcOptions(path, [cut], [new("camera", Threads: 1), new("jetson", Threads: 1)])
        {
            FramesPerSecond = 50, Deadline = TimeSpan.FromSeconds(10), Frames = 6, Warmup = 1, FramesFile = framesFile, OutputsKept = 2,
        };

        var result = await runtime.RunRpcAsync(options, CancellationToken.None);

        Assert.Equal((6, 0, 0), (result.Completed, result.Failed, result.DeadlineMisses));
        Assert.Equal(6, result.LatencyMs.Count);
        Assert.Equal(6, result.LatencySamples.Count);
        Assert.Equal(["camera", "jetson"], result.Workers.Select(w => w.Device));
        Assert.StartsWith("1.13", result.Torch, StringComparison.Ordinal);
        var comparison = PyTorchOutputCheck.Compare(model, [cut], frames, result.Outputs);
        Assert.Equal(2, comparison.Frames);
        Assert.True(comparison.MaxAbsDiff <= Tolerance, $"max abs diff {comparison.MaxAbsDiff}");

        // The input and the cut tensor each cross one hop, pickled with a little framing.
        var cutBytes = model.Cuts[cut].Tensors.Count * 1L * 256 * 27 * 27 * sizeof(float);
        Assert.InRange(result.Hops[0].PayloadBytes!.Value, frames[0].ByteCount, frames[0].ByteCount + 4096);
        Assert.InRange(result.Hops[1].PayloadBytes!.Value, cutBytes, cutBytes + 4096);
        // What each sender really wrote to its sockets covers every frame's payload.
        Assert.True(result.Driver.BytesWritten >= 6 * result.Hops[0].PayloadBytes, $"driver wrote {result.Driver.BytesWritten} bytes");
        Assert.True(result.Workers[0].BytesWritten >= 6 * result.Hops[1].PayloadBytes, $"camera wrote {result.Workers[0].BytesWritten} bytes");
        Assert.All(result.Workers, w => Assert.True(w.CpuSeconds > 0 && w.ComputeMs.Count == 6, $"{w.Device}: {w}"));
    }

    [SkippableFact]
    public async Task Mobilenetv2_pipelined_through_the_driver_as_paretopipe_does_matches_edgesplit()
    {
        var runtime = Runtime();
        var (model, path, frames, framesFile) = models.Get("mobilenetv2");
        // ParetoPipe's best MobileNetV2 split: features[:17] on the first device.
        var cut = model.Cuts.Single(c => c.NodeName == "features.16.add").Index;
        var options = new PyTorchRpcOptions(path, [cut], [new("pi-1", Threads: 1), new("pi-2", Threads: 1)])
        {
            Schedule = PyTorchSchedule.Pipelined, InFlight = 3, Route = PyTorchRoute.ViaDriver,
            Frames = 9, Warmup = 1, FramesFile = framesFile, OutputsKept = 2,
        };

        var result = await runtime.RunRpcAsync(options, CancellationToken.None);

        Assert.Equal(("pipelined", "via-driver", 3, true), (result.Mode, result.Route, result.InFlight, result.ClosedLoop));
        Assert.Equal((9, 0), (result.Completed, result.Failed));
        Assert.Equal("pi-1 via driver", result.Hops[1].From.Replace("worker1", "pi-1", StringComparison.Ordinal));
        Assert.True(PyTorchOutputCheck.Compare(model, [cut], frames, result.Outputs).MaxAbsDiff <= Tolerance);
    }

    [SkippableFact]
    public async Task A_cut_inside_a_block_is_refused_with_the_usable_cuts_and_no_worker_is_left_running()
    {
        var started = new List<int>();
        var runtime = Runtime((device, launch, capture) =>
        {
            var process = PyTorchLaunchers.Local(device, launch, capture);
            lock (started)
            {
                started.Add(process.Id);
            }
            return process;
        });
        var (model, path, _, _) = models.Get("mobilenetv2");
        var inside = model.Cuts.Single(c => c.NodeName == "features.3.conv.0.0").Index;

        var error = await Assert.ThrowsAsync<BadInputException>(() =>
            runtime.RunRpcAsync(new PyTorchRpcOptions(path, [inside], [new("a", 1), new("b", 1)]), CancellationToken.None));

        Assert.Contains("no PyTorch module boundary", error.Message, StringComparison.Ordinal);
        Assert.Contains("cuts with one: ", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, started.Count);
        Assert.All(started, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"process {pid} is still there"));
    }
}
