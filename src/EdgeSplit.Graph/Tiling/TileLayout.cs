namespace EdgeSplit.Graph.Tiling;

/// <summary>
/// One tile of a <see cref="TileLayout"/>: the region of the image it receives (its output
/// regions plus the halo its convolutions and pools read), the region of each cut tensor it
/// produces, and its FLOPs (halo included).
/// </summary>
public sealed class TileFootprint
{
    internal TileFootprint(int index, int row, int column, TileRegion input, IReadOnlyDictionary<string, TileRegion> outputs,
        IReadOnlyDictionary<string, TileRegion> computed, TileRegion?[] nodeOutputs, double flops, long inputBytes, long outputBytes)
    {
        Index = index;
        Row = row;
        Column = column;
        Input = input;
        Outputs = outputs;
        Computed = computed;
        NodeOutputs = nodeOutputs;
        Flops = flops;
        InputBytes = inputBytes;
        OutputBytes = outputBytes;
    }

    public int Index { get; }

    public int Row { get; }

    public int Column { get; }

    /// <summary>The part of the image this tile receives, halo included.</summary>
    public TileRegion Input { get; }

    /// <summary>The region of each feature map alive across the cut that this tile produces (tiles do not overlap here).</summary>
    public IReadOnlyDictionary<string, TileRegion> Outputs { get; }

    /// <summary>FLOPs of its convolutions and pools, halo included.</summary>
    public double Flops { get; }

    /// <summary>Bytes of its slice of the image.</summary>
    public long InputBytes { get; }

    /// <summary>Bytes of the regions it sends to the gatherer.</summary>
    public long OutputBytes { get; }

    /// <summary>The region of every feature map this tile computes (what its consumers read, halos included).</summary>
    internal IReadOnlyDictionary<string, TileRegion> Computed { get; }

    /// <summary>Per node position up to the cut: the output region it computes in this tile (null for constant nodes).</summary>
    internal TileRegion?[] NodeOutputs { get; }
}

/// <summary>
/// The receptive-field arithmetic of a tiled prefix: for each tile of <see cref="Grid"/>, walks
/// the prefix from the cut back to the image and takes, for every feature map, the smallest
/// region its consumers read (kernel, stride, padding, dilation and ceil mode of every
/// convolution and pool; both branches of a residual Add aligned to the same region).
/// </summary>
public sealed class TileLayout
{
    private TileLayout(SpatialAnalysis analysis, int cut, TileGrid grid, IReadOnlyList<string> maps, IReadOnlyList<string> constants, IReadOnlyList<TileFootprint> tiles)
    {
        Analysis = analysis;
        Cut = cut;
        Grid = grid;
        CutMaps = maps;
        CutConstants = constants;
        Tiles = tiles;
        UntiledFlops = analysis.PrefixFlops(cut);
        TiledFlops = tiles.Sum(t => t.Flops);
    }

    public SpatialAnalysis Analysis { get; }

    /// <summary>The tiles run nodes 0..Cut.</summary>
    public int Cut { get; }

    public TileGrid Grid { get; }

    /// <summary>The feature maps alive across the cut, each split over the tiles.</summary>
    public IReadOnlyList<string> CutMaps { get; }

    /// <summary>Tensors alive across the cut that are computed from constants alone (the gather recomputes them).</summary>
    public IReadOnlyList<string> CutConstants { get; }

    public IReadOnlyList<TileFootprint> Tiles { get; }

    /// <summary>FLOPs of the prefix's convolutions and pools on the whole image.</summary>
    public double UntiledFlops { get; }

    /// <summary>FLOPs of all tiles together, halos included.</summary>
    public double TiledFlops { get; }

    /// <summary>Extra FLOPs of the tiled prefix over the untiled one, in percent.</summary>
    public double HaloOverheadPercent => UntiledFlops > 0 ? (TiledFlops - UntiledFlops) / UntiledFlops * 100 : 0;

    /// <summary>Lays out <paramref name="grid"/> over the prefix up to <paramref name="cut"/>; bad input if it is not tileable or the grid is too fine.</summary>
    public static TileLayout Compute(SpatialAnalysis analysis, int cut, TileGrid grid)
    {
        if (analysis.WhyNotTileable(cut) is { } reason)
        {
            throw new BadInputException($"cut {cut} of '{analysis.Model.DisplayName}' is not tileable: {reason}");
        }
        return TryCompute(analysis, cut, grid, out var tooFine) ?? throw new BadInputException($"{tooFine}; use fewer tiles or another cut");
    }

    /// <summary>
    /// The layout, or null with the reason when <paramref name="grid"/> is too fine for a tileable
    /// cut (a tile would get no pixel of a small feature map, or read only padding).
    /// </summary>
    public static TileLayout? TryCompute(SpatialAnalysis analysis, int cut, TileGrid grid, out string? tooFine)
    {
        if (analysis.WhyNotTileable(cut) is { } reason)
        {
            throw new ArgumentException($"cut {cut} is not tileable: {reason}", nameof(cut));
        }
        var live = analysis.Model.Cuts[cut].Tensors;
        var maps = live.Where(t => analysis.SpatialShape(t) is not null).ToList();
        var constants = live.Where(t => analysis.SpatialShape(t) is null).ToList();
        var tiles = new List<TileFootprint>(grid.Count);
        for (var k = 0; k < grid.Count; k++)
        {
            var tile = Footprint(analysis, cut, grid, maps, k, out tooFine);
            if (tile is null)
            {
                return null;
            }
            tiles.Add(tile);
        }
        tooFine = null;
        return new TileLayout(analysis, cut, grid, maps, constants, tiles);
    }

    private static TileFootprint? Footprint(SpatialAnalysis analysis, int cut, TileGrid grid, List<string> maps, int k, out string? tooFine)
    {
        tooFine = null;
        var model = analysis.Model;
        var required = new Dictionary<string, TileRegion>(StringComparer.Ordinal);
        var outputs = new Dictionary<string, TileRegion>(StringComparer.Ordinal);
        long outputBytes = 0;
        foreach (var map in maps)
        {
            var shape = analysis.SpatialShape(map)!;
            var region = grid.Region(k, shape[2], shape[3]);
            if (region.IsEmpty)
            {
                tooFine = $"a {grid} grid leaves tile {k} no part of the {shape[2]}x{shape[3]} map '{map}' alive across cut {cut}";
                return null;
            }
            outputs[map] = region;
            required[map] = region;
            outputBytes += shape[0] * shape[1] * region.Pixels * ElementSize(model, map);
        }
        var nodeOutputs = new TileRegion?[cut + 1];
        double flops = 0;
        for (var p = cut; p >= 0; p--)
        {
            if (analysis.NodeAt(p) is not { } node)
            {
                continue;
            }
            TileRegion? output = null;
            foreach (var name in model.Nodes[p].Output)
            {
                if (required.TryGetValue(name, out var r))
                {
                    output = output is { } o ? o.Hull(r) : r;
                }
            }
            if (output is not { } region)
            {
                continue;
            }
            nodeOutputs[p] = region;
            flops += node.FlopsPerPixel * region.Pixels;
            foreach (var input in node.SpatialInputs)
            {
                var shape = analysis.SpatialShape(input)!;
                var needed = node.Needed(region);
                var clipped = new TileRegion(needed.Rows.Clip(shape[2]), needed.Columns.Clip(shape[3]));
                if (clipped.IsEmpty)
                {
                    tooFine = $"tile {k} of a {grid} grid at cut {cut} would read only padding of '{input}' at node {p}";
                    return null;
                }
                required[input] = required.TryGetValue(input, out var had) ? had.Hull(clipped) : clipped;
            }
        }
        var image = analysis.Image!;
        var imageShape = analysis.SpatialShape(image)!;
        var input0 = required[image];
        var inputBytes = imageShape[0] * imageShape[1] * input0.Pixels * ElementSize(model, image);
        return new TileFootprint(k, k / grid.Columns, k % grid.Columns, input0, outputs, required, nodeOutputs, flops, inputBytes, outputBytes);
    }

    private static long ElementSize(OnnxModel model, string tensor) =>
        model.ElementTypes.TryGetValue(tensor, out var type) ? ElementSizes.Of(type) : 4;
}
