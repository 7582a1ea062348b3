using System.Diagnostics;
using System.Runtime.InteropServices;
using EdgeSplit.Runtime.Providers;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeSplit.Runtime;

/// <summary>The result of running the whole model on one device (the proposal's pathway 1).</summary>
public sealed record BaselineResult(LatencyStats Latency, int WarmupRuns, IReadOnlyList<int> Top5, IReadOnlyList<float> Top5Scores)
{
    /// <summary>The execution provider the session really ran on.</summary>
    public ProviderUse Provider { get; init; } = ProviderUse.Cpu;
}

/// <summary>Runs the monolithic model repeatedly and reports latency percentiles and the top-5 classes.</summary>
public static class BaselineRunner
{
    public static BaselineResult Run(byte[] onnxModel, IReadOnlyList<TensorData> inputs, int count, int intraOpThreads, CancellationToken cancellation = default, ProviderChoice? provider = null)
    {
        using var session = new ModelSession(onnxModel, intraOpThreads, provider);
        var warmup = Math.Clamp(count / 10, 2, 10);
        IReadOnlyList<TensorData> outputs = [];
        for (var i = 0; i < warmup; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            outputs = session.Run(inputs);
        }
        var latencies = new double[count];
        for (var i = 0; i < count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var start = Stopwatch.GetTimestamp();
            outputs = session.Run(inputs);
            latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        var (top, scores) = TopK(outputs[0], 5);
        return new BaselineResult(LatencyStats.From(latencies), warmup, top, scores) { Provider = session.Provider };
    }

    /// <summary>Indices and values of the k largest scores of the first sample of a float output.</summary>
    public static (IReadOnlyList<int> Indices, IReadOnlyList<float> Scores) TopK(TensorData output, int k)
    {
        if (output.ElementType != TensorElementType.Float)
        {
            return ([], []);
        }
        var values = MemoryMarshal.Cast<byte, float>(output.Data.Span);
        var perSample = output.Shape.Length > 1 ? (int)(output.ElementCount / output.Shape[0]) : values.Length;
        var first = values[..perSample].ToArray();
        var indices = Enumerable.Range(0, first.Length).OrderByDescending(i => first[i]).Take(k).ToList();
        return (indices, [.. indices.Select(i => first[i])]);
    }
}
