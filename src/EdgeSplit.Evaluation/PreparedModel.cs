using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Graph;
using EdgeSplit.Planning;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Codec;
using EdgeSplit.Zoo;

namespace EdgeSplit.Evaluation;

/// <summary>A model loaded, profiled on this host and ready to serve.</summary>
internal sealed record PreparedModel(string Name, OnnxModel Onnx, SegmentProfile Profile, ServedModel Served, IReadOnlyList<WireTensor> Inputs)
{
    private SegmentProfile? _tiled;

    /// <summary>The inputs the profile was measured on.</summary>
    public IReadOnlyList<TensorData> Data { get; init; } = [];

    /// <summary><see cref="Profile"/> with the model's tile geometry and measured gather cost, built on first use (the tiles strategy's).</summary>
    public SegmentProfile TiledProfile() => _tiled ??= Profile with { Tiling = TileProfiler.Build(Onnx, Data) };

    public static PreparedModel Prepare(string nameOrPath, int seed)
    {
        OnnxModel onnx;
        if (File.Exists(nameOrPath))
        {
            onnx = OnnxModel.Load(nameOrPath);
        }
        else if (ModelZoo.BuiltNames.Contains(nameOrPath))
        {
            onnx = OnnxModel.FromProto(ModelZoo.Build(nameOrPath), nameOrPath);
        }
        else if (nameOrPath == ModelZoo.PretrainedResNet18 && File.Exists(ModelZoo.PretrainedResNet18Path))
        {
            onnx = OnnxModel.Load(ModelZoo.PretrainedResNet18Path);
        }
        else
        {
            throw new BadInputException($"model '{nameOrPath}' is neither an ONNX file nor a zoo model; use a path or one of {string.Join(", ", ModelZoo.BuiltNames)}");
        }
        var measured = ModelProfiling.Measure(onnx, options: new ProfilerOptions(WarmupRuns: 1, TimedRuns: 3, ProfiledRuns: 1), seed: seed);
        var (profile, timing, data) = (measured.Profile, measured.Timing, measured.Inputs);
        var name = File.Exists(nameOrPath) ? Path.GetFileNameWithoutExtension(nameOrPath) : nameOrPath;
        var served = OnnxServing.Create(onnx, name, timing.NodeMs);
        var inputs = data.Select(t => new WireTensor(t.Name, t.ElementType, t.Shape, t.Data)).ToList();
        return new PreparedModel(name, onnx, profile, served, inputs) { Data = data };
    }
}
