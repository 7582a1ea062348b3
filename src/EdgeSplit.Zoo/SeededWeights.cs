using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace EdgeSplit.Zoo;

/// <summary>
/// Fills float tensors from a counter-based PRNG (SplitMix64 of seed + index), so any chunk can be
/// computed independently: big tensors fill in parallel and the bytes never depend on thread count.
/// </summary>
internal static class SeededWeights
{
    private const int ChunkElements = 1 << 20;

    /// <summary>Little-endian float32 bytes, uniform in [center - bound, center + bound).</summary>
    public static byte[] Uniform(ulong seed, long count, float center, float bound)
    {
        if (!BitConverter.IsLittleEndian)
        {
            // ONNX raw_data is little-endian; writing floats through a span would be wrong here.
            throw new PlatformNotSupportedException("The model zoo writes raw float data and needs a little-endian machine.");
        }
        // Every byte is overwritten below, so skip zeroing half a gigabyte for VGG16.
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)(count * sizeof(float))));
        var chunks = (int)((count + ChunkElements - 1) / ChunkElements);
        if (chunks <= 1)
        {
            FillChunk(bytes, seed, 0, count, center, bound);
        }
        else
        {
            Parallel.For(0, chunks, chunk =>
            {
                var start = (long)chunk * ChunkElements;
                FillChunk(bytes, seed, start, Math.Min(ChunkElements, count - start), center, bound);
            });
        }
        return bytes;
    }

    /// <summary>A stable 64-bit seed from a model seed and a tensor name (FNV-1a, then mixed).</summary>
    public static ulong SeedFor(ulong modelSeed, string tensorName)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in tensorName)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        return Mix(hash ^ Mix(modelSeed));
    }

    private static void FillChunk(byte[] bytes, ulong seed, long start, long count, float center, float bound)
    {
        var floats = MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)(start * sizeof(float)), (int)(count * sizeof(float))));
        const float unit = 1.0f / (1 << 24);
        var scale = 2 * bound * unit;
        var offset = center - bound;
        var i = 0;
        // Each 64-bit draw gives two floats from its top and bottom 24 bits.
        var counter = seed + (ulong)start / 2 * 0x9E3779B97F4A7C15UL;
        for (; i + 1 < floats.Length; i += 2)
        {
            counter += 0x9E3779B97F4A7C15UL;
            var z = Mix(counter);
            floats[i] = (z >> 40) * scale + offset;
            floats[i + 1] = (z & 0xFFFFFF) * scale + offset;
        }
        if (i < floats.Length)
        {
            counter += 0x9E3779B97F4A7C15UL;
            floats[i] = (Mix(counter) >> 40) * scale + offset;
        }
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Float32 little-endian bytes of a single value (Clip bounds and similar).</summary>
    public static byte[] Scalar(float value)
    {
        var bytes = new byte[sizeof(float)];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        return bytes;
    }
}
