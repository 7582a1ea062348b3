using System.Runtime.InteropServices;
using EdgeSplit.Graph;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeSplit.Runtime;

/// <summary>Seeded random inputs for a model: the same seed gives the same bytes on every device.</summary>
public static class RandomInputs
{
    public static IReadOnlyList<TensorData> Create(OnnxModel model, IReadOnlyDictionary<string, long[]> shapes, int seed)
    {
        var random = new Random(seed);
        var tensors = new List<TensorData>(model.Inputs.Count);
        foreach (var input in model.Inputs)
        {
            var shape = shapes[input.Name];
            var count = checked((int)shape.Aggregate(1L, (a, d) => a * d));
            var type = (TensorElementType)(int)input.ElementType;
            byte[] bytes = type switch
            {
                // Image-like values in [0, 1), the range of a normalised pixel.
                TensorElementType.Float => MemoryMarshal.AsBytes(Fill(count, () => (float)random.NextDouble()).AsSpan()).ToArray(),
                TensorElementType.Double => MemoryMarshal.AsBytes(Fill(count, random.NextDouble).AsSpan()).ToArray(),
                TensorElementType.Float16 => MemoryMarshal.AsBytes(Fill(count, () => (Half)random.NextDouble()).AsSpan()).ToArray(),
                // Small non-negative integers: valid as indices or token ids for typical models.
                TensorElementType.Int64 => MemoryMarshal.AsBytes(Fill(count, () => (long)random.Next(0, 10)).AsSpan()).ToArray(),
                TensorElementType.Int32 => MemoryMarshal.AsBytes(Fill(count, () => random.Next(0, 10)).AsSpan()).ToArray(),
                TensorElementType.UInt8 => Fill(count, () => (byte)random.Next(0, 256)),
                TensorElementType.Bool => Fill(count, () => (byte)random.Next(0, 2)),
                _ => throw new BadInputException($"input '{input.Name}' has element type {input.ElementType}, for which no random input can be made; pass real data"),
            };
            tensors.Add(new TensorData(input.Name, type, shape, bytes));
        }
        return tensors;
    }

    private static T[] Fill<T>(int count, Func<T> next)
    {
        var values = new T[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = next();
        }
        return values;
    }
}
