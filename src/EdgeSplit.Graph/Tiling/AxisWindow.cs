namespace EdgeSplit.Graph.Tiling;

/// <summary>
/// One spatial axis of a sliding window (Conv, MaxPool, AveragePool, LpPool, or Pad as a 1-wide
/// window): which input positions an output position reads. Pointwise ops are the 1-wide window
/// without padding.
/// </summary>
internal readonly record struct AxisWindow(long Kernel, long Stride, long Dilation, long PadBegin, long PadEnd, bool CeilMode)
{
    public static AxisWindow Pointwise { get; } = new(1, 1, 1, 0, 0, false);

    /// <summary>Input positions one output position spans, dilation included.</summary>
    public long Span => (Dilation * (Kernel - 1)) + 1;

    /// <summary>
    /// Output size along this axis, as ONNX Runtime computes it: floor, or ceil without a last
    /// window that would start inside the end padding.
    /// </summary>
    public long OutputExtent(long input)
    {
        var room = input + PadBegin + PadEnd - Span;
        if (!CeilMode)
        {
            return room < 0 ? 0 : (room / Stride) + 1;
        }
        // ceil(room / stride) + 1, also for a window that starts in range and runs past the end (room < 0).
        var extent = Math.Max(0, FloorDivide(room + Stride - 1, Stride) + 1);
        if (extent > 0 && (extent - 1) * Stride >= input + PadBegin)
        {
            extent--;
        }
        return extent;
    }

    private static long FloorDivide(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>
    /// The input positions <paramref name="output"/> reads, before clipping: negative positions
    /// and those past the input's end are padding.
    /// </summary>
    public PixelRange Needed(PixelRange output) =>
        new((output.Start * Stride) - PadBegin, ((output.End - 1) * Stride) - PadBegin + Span);

    /// <summary>
    /// The padding a tile's copy of this window needs so that its input (<paramref name="output"/>'s
    /// needs, clipped to the real input) gives exactly <paramref name="output"/>: padding only
    /// where the tile touches the image border; interior borders read real neighbours instead.
    /// </summary>
    public AxisWindow ForTile(PixelRange output, long inputExtent, long outputExtent)
    {
        var needed = Needed(output);
        var clipped = needed.Clip(inputExtent);
        var begin = clipped.Start - needed.Start;
        var end = needed.End - clipped.End;
        if (end > PadEnd && CeilMode && output.End == outputExtent)
        {
            // The last window of a ceil-mode pool runs past the end padding: keep ceil mode and
            // the original padding so that window is cut exactly as in the whole image.
            return this with { PadBegin = begin, PadEnd = PadEnd };
        }
        return this with { PadBegin = begin, PadEnd = end, CeilMode = false };
    }
}
