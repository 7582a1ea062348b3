using System.Runtime.InteropServices;

namespace EdgeSplit.Zoo.Tests;

public class SeededWeightsTests
{
    [Fact]
    public void A_tensor_filled_in_parallel_chunks_is_uniform_over_its_bounds_and_repeatable()
    {
        // 3.5 M elements: four chunks filled in parallel, the last one partial and of odd length.
        const int count = 3_500_001;

        var bytes = SeededWeights.Uniform(seed: 99, count, center: 0.5f, bound: 0.25f);
        var values = MemoryMarshal.Cast<byte, float>(bytes);

        Assert.Equal(count, values.Length);
        double sum = 0, sumOfSquares = 0;
        foreach (var v in values)
        {
            Assert.InRange(v, 0.25f, 0.75f);
            sum += v;
            sumOfSquares += (v - 0.5) * (v - 0.5);
        }
        Assert.Equal(0.5, sum / count, 3);
        Assert.Equal(0.25 * 0.25 / 3, sumOfSquares / count, 3);
        Assert.Equal(bytes, SeededWeights.Uniform(seed: 99, count, center: 0.5f, bound: 0.25f));
        Assert.NotEqual(bytes[..64], SeededWeights.Uniform(seed: 100, 16, center: 0.5f, bound: 0.25f));
    }

    [Fact]
    public void The_chunk_boundary_does_not_change_the_sequence()
    {
        // The first chunk of a long tensor is the whole of a one-chunk tensor of the same seed.
        var oneChunk = SeededWeights.Uniform(seed: 5, 1 << 20, center: 0f, bound: 1f);
        var longer = SeededWeights.Uniform(seed: 5, 3 << 20, center: 0f, bound: 1f);

        Assert.Equal(oneChunk, longer[..oneChunk.Length]);
        // And the second chunk continues the sequence instead of restarting it.
        Assert.NotEqual(longer[..4096], longer[oneChunk.Length..(oneChunk.Length + 4096)]);
    }
}
