namespace EdgeSplit.Graph.Tiling;

/// <summary>Rows or columns <see cref="Start"/> (inclusive) to <see cref="End"/> (exclusive) of a feature map.</summary>
public readonly record struct PixelRange(long Start, long End)
{
    public long Length => End - Start;

    public bool IsEmpty => End <= Start;

    /// <summary>The smallest range holding both.</summary>
    public PixelRange Hull(PixelRange other) => new(Math.Min(Start, other.Start), Math.Max(End, other.End));

    /// <summary>The part inside 0..<paramref name="extent"/>.</summary>
    public PixelRange Clip(long extent) => new(Math.Clamp(Start, 0, extent), Math.Clamp(End, 0, extent));

    public override string ToString() => $"{Start}..{End}";
}

/// <summary>A rectangle of a feature map: the same rows and columns of every batch item and channel.</summary>
public readonly record struct TileRegion(PixelRange Rows, PixelRange Columns)
{
    public long Pixels => Rows.Length * Columns.Length;

    public bool IsEmpty => Rows.IsEmpty || Columns.IsEmpty;

    public TileRegion Hull(TileRegion other) => new(Rows.Hull(other.Rows), Columns.Hull(other.Columns));

    public override string ToString() => $"rows {Rows}, columns {Columns}";
}
