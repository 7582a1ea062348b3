namespace EdgeSplit.Graph.Tiling;

/// <summary>How a tileable node treats space: a sliding window, a Pad, or position by position.</summary>
internal enum SpatialKind
{
    /// <summary>Each output position reads the same position of each spatial input (elementwise, channel-wise, Concat on channels).</summary>
    Pointwise,
    Conv,
    Pool,
    /// <summary>A constant Pad: a 1-wide window whose padding is the op itself.</summary>
    Pad,
}

/// <summary>
/// A node of a tileable prefix: how its output positions map to its spatial inputs' positions,
/// the NCHW shape of each output (null for an output nothing uses), and its FLOPs per output
/// pixel (convolutions: 2 x batch x out channels x in channels per group x kernel area; pools:
/// batch x channels x kernel area; everything else counted as 0).
/// </summary>
internal sealed record SpatialNode(
    int Position,
    SpatialKind Kind,
    AxisWindow Rows,
    AxisWindow Columns,
    IReadOnlyList<string> SpatialInputs,
    IReadOnlyList<long[]?> OutputShapes,
    double FlopsPerPixel)
{
    public long OutputHeight => OutputShapes.First(s => s is not null)![2];

    public long OutputWidth => OutputShapes.First(s => s is not null)![3];

    /// <summary>Input region the output region <paramref name="output"/> reads, before clipping to the input.</summary>
    public TileRegion Needed(TileRegion output) => new(Rows.Needed(output.Rows), Columns.Needed(output.Columns));
}

/// <summary>Why a node ends the tileable prefix; caught by <see cref="SpatialAnalysis"/> and reported.</summary>
internal sealed class UntileableNodeException(string reason) : Exception(reason);
