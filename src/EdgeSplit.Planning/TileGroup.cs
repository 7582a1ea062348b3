using EdgeSplit.Graph.Tiling;

namespace EdgeSplit.Planning;

/// <summary>
/// A stage run as tiles (the proposal's Figure 1.2): the source slices the frame by
/// <paramref name="Grid"/>, tile k runs on <paramref name="Devices"/>[k] (row-major order, each
/// device once), and the stage's own <see cref="Stage.Device"/> gathers the tiles' outputs and
/// holds the cut's tensors, as after any stage. Only a plan's first stage can be a tile group;
/// its partitions are <see cref="TilePartitioner.Build"/> of
/// <c>TileLayout.Compute(analysis, stage.LastNode, Grid)</c>.
/// </summary>
public sealed record TileGroup(TileGrid Grid, IReadOnlyList<string> Devices)
{
    public override string ToString() => $"tiles {Grid} on {string.Join(',', Devices)}";

    public bool Equals(TileGroup? other) => other is not null && Grid.Equals(other.Grid) && Devices.SequenceEqual(other.Devices);

    public override int GetHashCode() => HashCode.Combine(Grid, string.Join('\0', Devices));
}

/// <summary>
/// What the planner knows about tiling a model: its tile geometry, and what gathering costs on
/// the reference device (ms per gathered byte, e.g. from <see cref="TileProfiler.MeasureGatherMsPerByte"/>).
/// </summary>
public sealed record TilingProfile(ITileGeometry Geometry, double GatherReferenceMsPerByte)
{
    public TilingProfile Validate()
    {
        if (!(GatherReferenceMsPerByte >= 0) || double.IsInfinity(GatherReferenceMsPerByte))
        {
            throw new ArgumentException($"gather cost must be finite and >= 0 ms per byte, got {GatherReferenceMsPerByte}");
        }
        return this;
    }
}

/// <summary>One tile as the cost model sees it: its share of the prefix's FLOPs (halo included) and its bytes in and out.</summary>
public sealed record TileShape(double FlopsShare, long InputBytes, long OutputBytes);

/// <summary>Every tile of a grid at one cut, and the bytes the gatherer joins.</summary>
public sealed record TileGroupShape(IReadOnlyList<TileShape> Tiles, long GatheredBytes);

/// <summary>Where a model can be tiled and what each tile of a grid costs (a seam: the graph's arithmetic, or a table in tests).</summary>
public interface ITileGeometry
{
    /// <summary>Cuts whose prefix can be tiled, ascending.</summary>
    IReadOnlyList<int> TileableCuts { get; }

    /// <summary>The tiles of <paramref name="grid"/> up to <paramref name="cut"/>; null when the grid is too fine there.</summary>
    TileGroupShape? Shape(int cut, TileGrid grid);
}

/// <summary>Tile geometry from the model's graph (<see cref="TileLayout"/>), remembered per cut and grid. Thread-safe.</summary>
public sealed class GraphTileGeometry(SpatialAnalysis analysis) : ITileGeometry
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int, TileGrid), TileGroupShape?> _shapes = new();

    public IReadOnlyList<int> TileableCuts => analysis.TileableCuts;

    public TileGroupShape? Shape(int cut, TileGrid grid) => _shapes.GetOrAdd((cut, grid), key =>
    {
        var layout = TileLayout.TryCompute(analysis, key.Item1, key.Item2, out _);
        if (layout is null)
        {
            return null;
        }
        var gathered = layout.Tiles.Sum(t => t.OutputBytes);
        // A prefix without convolutions or pools has no FLOPs counted: share by output area instead.
        return new TileGroupShape(
            [.. layout.Tiles.Select(t => new TileShape(
                layout.UntiledFlops > 0 ? t.Flops / layout.UntiledFlops : (double)t.OutputBytes / Math.Max(1, gathered),
                t.InputBytes,
                t.OutputBytes))],
            gathered);
    });
}
