using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Providers;

namespace EdgeSplit.Planning;

/// <summary>A model measured on this host: the planners' profile, the node times behind it, and the seeded inputs it ran on.</summary>
public sealed record MeasuredModel(SegmentProfile Profile, NodeTimingProfile Timing, IReadOnlyList<TensorData> Inputs);

/// <summary>
/// Builds the planners' view of a model once, the same way for <c>serve</c>, <c>plan</c> and <c>bench</c>:
/// times the whole model on this host with ONNX Runtime (node times of the reference device, relative
/// speed 1) on the execution provider <see cref="ProfilerOptions.Provider"/> names, measures every cut's
/// bytes, on seeded random inputs of the model's shapes, and on request adds the model's tile geometry.
/// </summary>
public static class ModelProfiling
{
    /// <summary>
    /// Measures <paramref name="model"/>. With a <paramref name="store"/>, node times are reused from it (or
    /// measured and stored), keyed by the provider asked for. With <paramref name="tiling"/>, the profile also
    /// carries the tile geometry and the gather's measured cost, so the optimal planner considers tile groups.
    /// </summary>
    public static MeasuredModel Measure(OnnxModel model, string? inputShapes = null, ProfilerOptions? options = null, int seed = 1, ProfileStore? store = null, bool tiling = false)
    {
        options ??= new ProfilerOptions();
        var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, inputShapes), seed);
        var cuts = CutProfiler.Measure(model, inputs, 1, out var facts);
        NodeTimingProfile Time() => Profiler.Measure(model, [], inputs, "this-host", options, CutProfiler.ElementTypes(facts));
        var provider = (options.Provider?.Provider ?? ExecutionProvider.Cpu).Name;
        var timing = store is null ? Time() : store.GetOrMeasure(Profiler.ModelSha256(model), "this-host", Time, provider);
        var profile = Profiler.BuildSegmentProfile(model, timing, cuts, facts);
        if (tiling)
        {
            profile = profile with { Tiling = TileProfiler.Build(model, inputs, options.IntraOpThreads) };
        }
        return new MeasuredModel(profile, timing, inputs);
    }

    /// <summary>A profile from node costs alone (no memory or cut sizes known): a fallback when none was measured.</summary>
    public static SegmentProfile FromNodeCosts(IReadOnlyList<double> nodeCostsMs, int nodeCount)
    {
        var costs = nodeCostsMs.Count == nodeCount ? nodeCostsMs : Enumerable.Repeat(1.0, nodeCount).ToList();
        return new SegmentProfile([.. costs], new long[nodeCount], new long[Math.Max(0, nodeCount - 1)], 0, 0).Validate();
    }
}
