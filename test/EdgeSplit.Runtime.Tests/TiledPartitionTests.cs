using EdgeSplit.Graph;
using EdgeSplit.Graph.Tiling;
using EdgeSplit.Tests;

namespace EdgeSplit.Runtime.Tests;

public class TiledPartitionTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var (name, _) in TileModels.All())
        {
            foreach (var grid in new[] { "2x2", "3,1x1,2", "1x3", "3x1" })
            {
                data.Add(name, grid);
            }
        }
        // The architecture-shaped models: residual, inception, dense and squeeze-excite blocks, constant-only nodes (the BatchNorm variance).
        foreach (var name in new[] { "chain", "chain-opset9", "residual", "inception", "dense", "squeeze-excite" })
        {
            data.Add(name, "2x2");
            data.Add(name, "3,1x1,2");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gathered_tiles_match_the_monolithic_tensors_at_every_tileable_cut(string name, string grid)
    {
        var model = Load(name);
        var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, null), seed: 4);
        var analysis = SpatialAnalysis.Analyse(model, inputs.ToDictionary(i => i.Name, i => i.Shape));
        Assert.NotEmpty(analysis.TileableCuts);

        var report = TiledVerifier.Verify(analysis, analysis.TileableCuts, TileGrid.Parse(grid), inputs, intraOpThreads: 1);

        Assert.Equal(analysis.TileableCuts.Count, report.CutsChecked);
        Assert.True(report.Passed, string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => $"cut {c.Cut}: {c.MaxAbsDiff}")));
    }

    [Fact]
    public void Every_model_of_the_tile_set_is_tileable_up_to_its_global_pool()
    {
        foreach (var (name, proto) in TileModels.All())
        {
            var model = OnnxModel.FromProto(proto, name);
            var analysis = SpatialAnalysis.Analyse(model, InputShapes.Resolve(model, null));
            Assert.Equal("GlobalAveragePool", model.Nodes[analysis.PrefixEnd].OpType);
            Assert.Equal(Enumerable.Range(0, analysis.PrefixEnd), analysis.TileableCuts);
        }
    }

    [Fact]
    public void Unequal_weights_give_unequal_tiles_that_still_gather_exactly()
    {
        var model = Load("odd-strided-dilated");
        var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, null), seed: 8);
        var analysis = SpatialAnalysis.Analyse(model, InputShapes.Resolve(model, null));
        // After the first strided conv and its ReLU: 40 rows, shared 3:1.
        const int cut = 1;
        var layout = TileLayout.Compute(analysis, cut, TileGrid.Weighted([3, 1], [1]));
        var map = layout.CutMaps.Single();
        var rows = layout.Tiles.Select(t => t.Outputs[map].Rows.Length).ToList();

        Assert.Equal([30, 10], rows);
        Assert.True(layout.Tiles[0].Flops > 2 * layout.Tiles[1].Flops);
        using var runner = new TileGroupRunner(new TilePartitioner(model).Build(layout));
        var gathered = runner.Run(inputs).ToDictionary(t => t.Name);
        using var prefix = new ChainRunner([new Partitioner(model).Split([cut])[0]]);
        Assert.True(Verifier.Compare(cut, prefix.Run(inputs), gathered).Passed);
    }

    [Fact]
    public void A_tile_region_in_the_wrong_place_fails_the_check()
    {
        var model = Load("three-convs");
        var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, null), seed: 2);
        var analysis = SpatialAnalysis.Analyse(model, InputShapes.Resolve(model, null));
        var cut = analysis.TileableCuts[^1];
        var partitions = new TilePartitioner(model).Build(TileLayout.Compute(analysis, cut, TileGrid.Even(2, 1)));
        using var scatter = new ModelSession(partitions.Scatter.OnnxBytes);
        using var top = new ModelSession(partitions.Tiles[0].OnnxBytes);
        using var bottom = new ModelSession(partitions.Tiles[1].OnnxBytes);
        using var gather = new ModelSession(partitions.Gather.OnnxBytes);
        var slices = scatter.Run(inputs).ToDictionary(t => t.Name);
        var a = top.Run(slices).Single();
        var b = bottom.Run(slices).Single();

        // Same shapes, swapped places: the gather runs, the comparison must not pass.
        var swapped = gather.Run([a with { Name = b.Name }, b with { Name = a.Name }]).ToDictionary(t => t.Name);
        var right = gather.Run([a, b]).ToDictionary(t => t.Name);
        using var prefix = new ChainRunner([new Partitioner(model).Split([cut])[0]]);
        var expected = prefix.Run(inputs);

        Assert.True(Verifier.Compare(cut, expected, right).Passed);
        Assert.False(Verifier.Compare(cut, expected, swapped).Passed);
    }

    [Fact]
    public void Tiles_at_a_cut_inside_a_residual_block_carry_both_branches()
    {
        var model = Load("residual-depthwise");
        var analysis = SpatialAnalysis.Analyse(model, InputShapes.Resolve(model, null));
        var inside = analysis.TileableCuts.First(c => model.Cuts[c].Tensors.Count == 2);
        var layout = TileLayout.Compute(analysis, inside, TileGrid.Even(2, 2));
        var shapes = layout.CutMaps.Select(m => analysis.SpatialShape(m)![2]).ToList();

        // The block input at full resolution, the strided branch at half: each tile has its share of both.
        Assert.Equal(2, layout.CutMaps.Count);
        Assert.NotEqual(shapes[0], shapes[1]);
        var partitions = new TilePartitioner(model).Build(layout);
        Assert.All(partitions.Tiles, t => Assert.Equal(2, t.Outputs.Count));
        Assert.Equal(model.Cuts[inside].Tensors, partitions.Gather.Forwards);
    }

    private static OnnxModel Load(string name)
    {
        var proto = TileModels.All().Concat(TestModels.All()).First(m => m.Name == name).Model;
        return OnnxModel.FromProto(proto, name);
    }
}
