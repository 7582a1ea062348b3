using System.Runtime.InteropServices;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;

namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>How far PyTorch's outputs are from EdgeSplit's on the same frames: frames compared and the largest absolute difference.</summary>
public sealed record OutputComparison(int Frames, double MaxAbsDiff);

/// <summary>Runs EdgeSplit's chained partitions (ONNX Runtime) on the frames PyTorch reported outputs for, and compares.</summary>
public static class PyTorchOutputCheck
{
    /// <param name="model">The zoo model both ran.</param>
    /// <param name="cuts">EdgeSplit's cuts; the partitions chained in this process.</param>
    /// <param name="frames">The frames file's frames, in its order (an output's <c>SourceFrame</c> indexes them).</param>
    /// <param name="outputs">PyTorch's outputs.</param>
    public static OutputComparison Compare(OnnxModel model, IReadOnlyList<int> cuts, IReadOnlyList<TensorData> frames, IReadOnlyList<PyTorchFrameOutput> outputs)
    {
        using var chain = new ChainRunner(new Partitioner(model).Split(cuts));
        var maxDiff = 0.0;
        foreach (var output in outputs)
        {
            var expected = chain.Run([frames[output.SourceFrame]]).ToDictionary(t => t.Name, StringComparer.Ordinal);
            foreach (var name in model.OutputNames)
            {
                if (!output.Values.TryGetValue(name, out var actual))
                {
                    throw new PyTorchRunException($"PyTorch reported no '{name}' for frame {output.Frame}");
                }
                maxDiff = Math.Max(maxDiff, MaxAbsDiff(MemoryMarshal.Cast<byte, float>(expected[name].Data.Span), actual));
            }
        }
        return new OutputComparison(outputs.Count, maxDiff);
    }

    /// <summary>The largest absolute difference; infinite when the lengths differ or a value is NaN.</summary>
    public static double MaxAbsDiff(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        if (expected.Length != actual.Length)
        {
            return double.PositiveInfinity;
        }
        var max = 0.0;
        for (var i = 0; i < expected.Length; i++)
        {
            var diff = Math.Abs((double)expected[i] - actual[i]);
            max = double.IsNaN(diff) ? double.PositiveInfinity : Math.Max(max, diff);
        }
        return max;
    }
}
