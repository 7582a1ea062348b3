using EdgeSplit.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace EdgeSplit.Zoo.Tests;

/// <summary>Runs serialized ONNX bytes once in a real ONNX Runtime session on a seeded normal input.</summary>
internal static class OrtRunner
{
    public static IReadOnlyDictionary<string, (long[] Shape, float[] Values)> RunOnce(byte[] onnx, int seed = 7)
    {
        using var session = OrtSessions.Create(onnx, intraOpThreads: 1);
        var random = new Random(seed);
        var inputs = new List<OrtValue>();
        try
        {
            foreach (var (name, metadata) in session.InputMetadata)
            {
                // Symbolic dimensions (batch) become 1.
                var shape = metadata.Dimensions.Select(d => d > 0 ? (long)d : 1L).ToArray();
                var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
                for (var i = 0; i < data.Length; i++)
                {
                    data[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
                }
                inputs.Add(OrtValue.CreateTensorValueFromMemory(data, shape));
            }
            var outputNames = session.OutputMetadata.Keys.ToArray();
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, session.InputMetadata.Keys.ToArray(), inputs, outputNames);
            var result = new Dictionary<string, (long[], float[])>();
            for (var i = 0; i < outputNames.Length; i++)
            {
                result[outputNames[i]] = (outputs[i].GetTensorTypeAndShape().Shape, outputs[i].GetTensorDataAsSpan<float>().ToArray());
            }
            return result;
        }
        finally
        {
            foreach (var input in inputs)
            {
                input.Dispose();
            }
        }
    }
}
