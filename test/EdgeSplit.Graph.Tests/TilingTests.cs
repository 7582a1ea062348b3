using EdgeSplit.Graph.Tiling;
using EdgeSplit.Tests;
using Onnx;

namespace EdgeSplit.Graph.Tests;

public class TilingTests
{
    [Theory]
    [InlineData("2x2", 2, 2, "2x2")]
    [InlineData("3,1x1,1", 2, 2, "3,1x2")]
    [InlineData("1x4", 1, 4, "1x4")]
    public void Grids_parse_from_counts_or_weights(string text, int rows, int columns, string printed)
    {
        var grid = TileGrid.Parse(text);

        Assert.Equal(rows, grid.Rows);
        Assert.Equal(columns, grid.Columns);
        Assert.Equal(printed, grid.ToString());
        Assert.Equal(grid, TileGrid.Parse(printed));
    }

    [Theory]
    [InlineData("2")]
    [InlineData("2x")]
    [InlineData("0x2")]
    [InlineData("2x-1")]
    [InlineData("axb")]
    [InlineData("9x9")]
    public void A_grid_that_makes_no_sense_is_bad_input(string text) =>
        Assert.Throws<BadInputException>(() => TileGrid.Parse(text));

    [Fact]
    public void Weights_share_rows_in_proportion_and_cover_every_row_once()
    {
        var grid = TileGrid.Weighted([3, 1, 2], [1]);

        Assert.Equal([new(0, 28), new(28, 37), new(37, 56)], Enumerable.Range(0, 3).Select(r => grid.RowRange(r, 56)));
        Assert.Equal(new PixelRange(0, 7), grid.RowRange(0, 7) with { End = grid.RowRange(2, 7).End });
    }

    [Fact]
    public void Split_positions_land_exactly_on_the_reference_map_and_scale_on_others()
    {
        var grid = TileGrid.AtPositions([10], [7, 20], height: 40, width: 29);

        Assert.Equal(new PixelRange(0, 10), grid.RowRange(0, 40));
        Assert.Equal(new PixelRange(7, 20), grid.ColumnRange(1, 29));
        Assert.Equal(new PixelRange(0, 5), grid.RowRange(0, 20));
        Assert.Throws<BadInputException>(() => TileGrid.AtPositions([30, 10], [1], 40, 29));
    }

    [Fact]
    public void Each_conv_layer_widens_the_halo_by_its_reach()
    {
        var analysis = Analyse(TileModels.ThreeConvs());
        var layout = TileLayout.Compute(analysis, 2, TileGrid.Even(2, 1));

        // Three 3x3 convolutions: each reads one more row beyond the tile's border.
        Assert.Equal(new PixelRange(0, 11), layout.Tiles[0].Input.Rows);
        Assert.Equal(new PixelRange(5, 16), layout.Tiles[1].Input.Rows);
        Assert.Equal(new PixelRange(0, 16), layout.Tiles[1].Input.Columns);
        // Per tile the three convs compute 10 + 9 + 8 rows instead of 8 + 8 + 8.
        Assert.Equal(3 * 16 * 16 * 18.0, layout.UntiledFlops);
        Assert.Equal(12.5, layout.HaloOverheadPercent, 6);
        Assert.Equal(11 * 16 * 4, layout.Tiles[0].InputBytes);
        Assert.Equal(8 * 16 * 4, layout.Tiles[0].OutputBytes);
    }

    [Fact]
    public void A_tile_keeps_padding_only_at_the_image_border_and_ceil_mode_only_for_the_last_window()
    {
        var model = OnnxModel.FromProto(TileModels.OddStridedDilated(), "odd");
        var analysis = SpatialAnalysis.Analyse(model, Shapes(model));
        var partitions = new TilePartitioner(model).Build(TileLayout.Compute(analysis, analysis.TileableCuts[^1], TileGrid.Even(2, 2)));
        NodeProto Node(int tile, string op) => ModelProto.Parser.ParseFrom(partitions.Tiles[tile].OnnxBytes).Graph.Node.First(n => n.OpType == op);
        long[] Ints(NodeProto node, string name) => [.. node.Attribute.Single(a => a.Name == name).Ints];
        long Int(NodeProto node, string name) => node.Attribute.Single(a => a.Name == name).I;

        // The first conv pads 1 on every side (pads are top, left, bottom, right): the top-left
        // tile keeps the top and left padding, the bottom-right tile the bottom and right.
        Assert.Equal([1, 1, 0, 0], Ints(Node(0, "Conv"), "pads"));
        Assert.Equal([0, 0, 1, 1], Ints(Node(3, "Conv"), "pads"));
        // The ceil-mode max pool's last windows run past the map: only the bottom-right tile keeps ceil mode.
        Assert.Equal(0, Int(Node(0, "MaxPool"), "ceil_mode"));
        Assert.Equal(1, Int(Node(3, "MaxPool"), "ceil_mode"));
    }

    [Fact]
    public void The_prefix_ends_at_global_pooling_and_says_so()
    {
        var model = OnnxModel.FromProto(TestModels.Chain(), "chain");
        var analysis = SpatialAnalysis.Analyse(model, Shapes(model));
        var pool = model.Nodes.ToList().FindIndex(n => n.OpType == "GlobalAveragePool");

        Assert.Equal(pool, analysis.PrefixEnd);
        Assert.Equal([.. Enumerable.Range(0, pool)], analysis.TileableCuts);
        Assert.Contains("GlobalAveragePool) pools over the whole image", analysis.PrefixEndReason);
        Assert.Contains("pools over the whole image", analysis.WhyNotTileable(pool));
        Assert.Contains("pools over the whole image", Assert.Throws<BadInputException>(() => TileLayout.Compute(analysis, pool, TileGrid.Even(2, 2))).Message);
    }

    public static TheoryData<string, string> Breakers() => new()
    {
        { "attention", "(Reshape) reshapes the spatial axes" },
        { "dynamic-hw", "(Shape) reads the size of the whole tensor" },
        { "resize", "(Resize) resamples the image" },
        { "custom", "is a custom operator of domain 'com.example'" },
        { "squeeze-excite", "(GlobalAveragePool) pools over the whole image" },
    };

    [Theory]
    [MemberData(nameof(Breakers))]
    public void Operators_that_break_spatial_independence_end_the_prefix(string name, string reason)
    {
        var proto = name switch
        {
            "resize" => TileModels.WithResize(),
            "custom" => TileModels.WithCustomOperator(),
            _ => TestModels.All().Single(m => m.Name == name).Model,
        };
        var model = OnnxModel.FromProto(proto, name);
        var analysis = SpatialAnalysis.Analyse(model, Shapes(model, name == "dynamic-hw" ? [1, 3, 16, 24] : null));

        Assert.Contains(reason, analysis.PrefixEndReason);
        Assert.All(analysis.TileableCuts, c => Assert.True(c < analysis.PrefixEnd));
    }

    [Fact]
    public void A_second_input_alive_across_a_cut_makes_it_not_tileable()
    {
        var model = OnnxModel.FromProto(TestModels.TwoInputsTwoOutputs(), "two");
        var analysis = SpatialAnalysis.Analyse(model, Shapes(model));

        Assert.Empty(analysis.TileableCuts);
        Assert.Contains("'extra' is alive across it", analysis.WhyNotTileable(0));
    }

    [Fact]
    public void A_model_without_an_image_input_has_no_tileable_cut()
    {
        var g = new TestGraph();
        g.Output(g.Op("Relu", [g.Op("Relu", [g.Input("tokens", 1, 16)])]), 1, 16);
        var model = OnnxModel.FromProto(g.Build(), "tokens");
        var analysis = SpatialAnalysis.Analyse(model, Shapes(model));

        Assert.Empty(analysis.TileableCuts);
        Assert.Contains("no 4-D (NCHW) image input", analysis.PrefixEndReason);
    }

    [Fact]
    public void Too_fine_a_grid_for_a_small_map_is_reported_not_thrown()
    {
        var analysis = Analyse(TestModels.Chain());
        var pooled = analysis.TileableCuts[^1];

        // After the 2x2 max pool the map is 4x4: five rows cannot all have a pixel.
        Assert.Null(TileLayout.TryCompute(analysis, pooled, TileGrid.Even(5, 1), out var reason));
        Assert.Contains("leaves tile", reason);
        Assert.NotNull(TileLayout.TryCompute(analysis, pooled, TileGrid.Even(4, 4), out _));
    }

    [Fact]
    public void Constant_only_nodes_are_recomputed_by_the_tiles_and_the_gather()
    {
        // TestGraph's BatchNorm computes its variance from constants (Abs, Add): such tensors may cross a cut.
        var model = OnnxModel.FromProto(TestModels.Chain(), "chain");
        var analysis = SpatialAnalysis.Analyse(model, Shapes(model));
        var cut = analysis.TileableCuts.First(c => model.Cuts[c].Tensors.Count == 2);
        var layout = TileLayout.Compute(analysis, cut, TileGrid.Even(2, 2));
        var partitions = new TilePartitioner(model).Build(layout);
        var gather = ModelProto.Parser.ParseFrom(partitions.Gather.OnnxBytes).Graph;

        Assert.Single(layout.CutConstants);
        Assert.Contains(gather.Node, n => n.Output.Contains(layout.CutConstants[0]));
        Assert.Equal(model.Cuts[cut].Tensors, gather.Output.Select(o => o.Name));
    }

    private static SpatialAnalysis Analyse(ModelProto proto)
    {
        var model = OnnxModel.FromProto(proto, "test");
        return SpatialAnalysis.Analyse(model, Shapes(model));
    }

    private static Dictionary<string, long[]> Shapes(OnnxModel model, long[]? image = null) =>
        model.Inputs.ToDictionary(i => i.Name, i => image ?? [.. i.Shape!.Select(d => d.Value ?? 1)]);
}
