using EdgeSplit.Graph;
using EdgeSplit.Tests;

namespace EdgeSplit.Planning.Tests;

/// <summary>The one place a model's planning profile is built: node times per provider, reused from a store, and the tile geometry on request.</summary>
public sealed class ModelProfilingTests
{
    private static readonly ProfilerOptions Quick = new(WarmupRuns: 1, TimedRuns: 2, ProfiledRuns: 1);

    [Fact]
    public void A_store_keeps_the_node_times_under_the_provider_and_gives_them_back_instead_of_measuring_again()
    {
        var model = OnnxModel.FromProto(TestModels.Residual(), "residual");
        var directory = Directory.CreateTempSubdirectory("edgesplit-profiles-");
        try
        {
            var store = new ProfileStore(directory.FullName);
            var first = ModelProfiling.Measure(model, options: Quick, store: store);
            var again = ModelProfiling.Measure(model, options: Quick, store: store);

            Assert.Equal("cpu", first.Timing.Provider);
            Assert.Equal(store.PathFor(Profiler.ModelSha256(model), "this-host", "cpu"), Assert.Single(Directory.GetFiles(directory.FullName)));
            Assert.Equal(first.Timing.MeasuredAt, again.Timing.MeasuredAt);
            Assert.Equal(first.Profile.ReferenceNodeMs, again.Profile.ReferenceNodeMs);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void With_tiling_the_profile_carries_the_tile_geometry_and_a_measured_gather_cost()
    {
        var model = OnnxModel.FromProto(TileModels.OddStridedDilated(), "odd");

        var plain = ModelProfiling.Measure(model, options: Quick);
        var tiled = ModelProfiling.Measure(model, options: Quick, tiling: true);

        Assert.Null(plain.Profile.Tiling);
        Assert.NotNull(tiled.Profile.Tiling);
        Assert.True(tiled.Profile.Tiling.GatherReferenceMsPerByte > 0);
        Assert.Equal(plain.Profile.CutBytes, tiled.Profile.CutBytes);
    }
}
