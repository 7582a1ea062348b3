using EdgeSplit.Graph;
using EdgeSplit.Tests;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeSplit.Runtime.Tests;

public class CutProfilerTests
{
    [Fact]
    public void Cut_bytes_are_the_sizes_of_the_live_tensors_in_a_real_run()
    {
        var model = OnnxModel.FromProto(TestModels.Inception(), "inception");
        var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, null), seed: 1);

        var sizes = CutProfiler.Measure(model, inputs, 1, out var facts);

        Assert.Equal(model.Cuts.Count, sizes.Count);
        foreach (var size in sizes)
        {
            Assert.Equal(size.Tensors.Sum(t => t.Shape.Aggregate(1L, (a, d) => a * d) * 4), size.Bytes);
        }
        // The first conv's output is 1x4x8x8 floats.
        Assert.Equal(4 * 8 * 8 * 4, sizes[0].Bytes);
        Assert.All(facts.Values, f => Assert.Equal(TensorElementType.Float, f.ElementType));
    }

    [Fact]
    public void Measured_types_include_integer_shape_tensors()
    {
        var model = OnnxModel.FromProto(TestModels.DynamicHeightWidth(), "dynamic");
        var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, "1x3x8x8"), seed: 1);

        CutProfiler.Measure(model, inputs, 1, out var facts);

        var shape = model.Nodes.Single(n => n.OpType == "Shape").Output[0];
        Assert.Equal(TensorElementType.Int64, facts[shape].ElementType);
        Assert.Equal([4L], facts[shape].Shape);
    }

    [Fact]
    public void Latency_percentiles_use_the_nearest_rank()
    {
        var stats = LatencyStats.From([.. Enumerable.Range(1, 100).Select(i => (double)i)]);

        Assert.Equal(50, stats.P50Ms);
        Assert.Equal(95, stats.P95Ms);
        Assert.Equal(99, stats.P99Ms);
    }
}
