using CsCheck;
using EdgeSplit.Runtime.Codec;
using EdgeSplit.Tests;

namespace EdgeSplit.Cluster.Tests;

public sealed class CodecTests
{
    [Fact]
    public void Int8_round_trip_error_stays_within_half_a_quantisation_step()
    {
        Gen.Single[-1000f, 1000f].Array[1, 500].Sample(values =>
        {
            var range = values.Max() - values.Min();
            var error = FeatureMapCodec.MeasureError(values, FeatureMapCompression.Int8);
            Assert.True(error.MaxAbsError <= (range / 255.0 / 2) + (1e-6 * (Math.Abs(values.Max()) + Math.Abs(values.Min()) + 1)), $"error {error.MaxAbsError} for range {range}");
            Assert.Equal(values.Length, error.EncodedBytes);
        });
    }

    [Fact]
    public void Fp16_round_trip_keeps_about_three_significant_digits()
    {
        Gen.Single[-60000f, 60000f].Array[1, 500].Sample(values =>
        {
            var decoded = FeatureMapCodec.RoundTrip(values, FeatureMapCompression.Fp16);
            for (var i = 0; i < values.Length; i++)
            {
                // Half has 11 significant bits; below its normal range the absolute error is what counts.
                Assert.True(Math.Abs(values[i] - decoded[i]) <= Math.Max(Math.Abs(values[i]) / 1024, 1e-4), $"{values[i]} -> {decoded[i]}");
            }
        });
    }

    [Fact]
    public void Tensor_round_trip_compresses_floats_and_leaves_other_types_exact()
    {
        var floats = new Runtime.TensorData("f", Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, [3], System.Runtime.InteropServices.MemoryMarshal.AsBytes(new[] { 0.1f, -2.5f, 7f }.AsSpan()).ToArray());
        var longs = new Runtime.TensorData("i", Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64, [2], System.Runtime.InteropServices.MemoryMarshal.AsBytes(new[] { 1L, 123456789L }.AsSpan()).ToArray());
        var roundTripped = FeatureMapCodec.RoundTrip(floats, FeatureMapCompression.Int8);
        var before = floats.ToDoubles();
        var after = roundTripped.ToDoubles();
        Assert.Equal(floats.Shape, roundTripped.Shape);
        Assert.NotEqual(before, after);
        Assert.All(before.Zip(after), p => Assert.True(Math.Abs(p.First - p.Second) <= 9.5 / 255 / 2 + 1e-6));
        Assert.Same(longs, FeatureMapCodec.RoundTrip(longs, FeatureMapCompression.Int8));
    }

    [Fact]
    public void Constant_and_empty_tensors_survive_int8()
    {
        Assert.All(FeatureMapCodec.RoundTrip([3.5f, 3.5f, 3.5f], FeatureMapCompression.Int8), v => Assert.Equal(3.5f, v, 1e-5f));
        Assert.Empty(FeatureMapCodec.RoundTrip([], FeatureMapCompression.Int8));
    }

    [Fact]
    public void Uncompressed_round_trip_is_exact()
    {
        Gen.Single.Array[0, 100].Sample(values => Assert.Equal(values, FeatureMapCodec.RoundTrip(values, FeatureMapCompression.None)));
    }

    [Theory]
    [InlineData("fp16", FeatureMapCompression.Fp16)]
    [InlineData("INT8", FeatureMapCompression.Int8)]
    [InlineData("none", FeatureMapCompression.None)]
    public void Compression_names_parse(string text, FeatureMapCompression expected) => Assert.Equal(expected, FeatureMapCodec.Parse(text));

    [Fact]
    public void Unknown_compression_is_bad_input() => Assert.Throws<Graph.BadInputException>(() => FeatureMapCodec.Parse("zip"));

    [Theory]
    [InlineData(FeatureMapCompression.Fp16, 1e-2)]
    [InlineData(FeatureMapCompression.Int8, 0.2)]
    public async Task Compressed_hops_stay_close_to_the_monolithic_output(FeatureMapCompression compression, double tolerance)
    {
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [1, 3]);
        var coordinator = cluster.Coordinator!;
        await coordinator.SetPlanAsync(coordinator.CurrentPlan!, compression);
        using var session = Reference.Session(model);
        var input = Reference.Input(7);
        var result = await coordinator.InferAsync([input]);
        var diff = Reference.MaxAbsDiff(Reference.Monolithic(session, input), result.Outputs[0].ToFloats());
        Assert.True(diff <= tolerance, $"max abs diff {diff}");
        // Proof the feature maps really travelled compressed: an exact path would give 0.
        Assert.True(diff > 0);
        Assert.Equal(compression, coordinator.Status().Compression);
    }
}
