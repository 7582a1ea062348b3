using System.Globalization;

namespace EdgeSplit.Graph.Tiling;

/// <summary>
/// How a frame is cut into tiles: rows in proportion to <see cref="RowWeights"/>, columns to
/// <see cref="ColumnWeights"/>. Weights are integers so that every device derives the same
/// boundaries for a tensor of any size; a bigger weight gives a bigger share (CoEdge: a faster
/// device gets more rows). Tile (row r, column c) is number <c>r * Columns + c</c>.
/// </summary>
public sealed class TileGrid : IEquatable<TileGrid>
{
    private readonly long[] _rows;
    private readonly long[] _columns;

    private TileGrid(long[] rows, long[] columns)
    {
        if (rows.Length == 0 || columns.Length == 0)
        {
            throw new BadInputException("a tile grid needs at least one row and one column");
        }
        if (rows.Concat(columns).Any(w => w <= 0))
        {
            throw new BadInputException($"tile weights must be positive, got {Describe(rows)}x{Describe(columns)}");
        }
        if (rows.Length * columns.Length > 64)
        {
            throw new BadInputException($"a {rows.Length}x{columns.Length} grid has more than 64 tiles; use fewer");
        }
        _rows = rows;
        _columns = columns;
    }

    public IReadOnlyList<long> RowWeights => _rows;

    public IReadOnlyList<long> ColumnWeights => _columns;

    public int Rows => _rows.Length;

    public int Columns => _columns.Length;

    public int Count => _rows.Length * _columns.Length;

    /// <summary>Equal rows and equal columns.</summary>
    public static TileGrid Even(int rows, int columns)
    {
        if (rows <= 0 || columns <= 0)
        {
            throw new BadInputException($"a tile grid needs at least one row and one column, got {rows}x{columns}");
        }
        return new TileGrid([.. Enumerable.Repeat(1L, rows)], [.. Enumerable.Repeat(1L, columns)]);
    }

    /// <summary>Rows and columns in proportion to the weights (e.g. devices' speeds scaled to integers).</summary>
    public static TileGrid Weighted(IReadOnlyList<long> rowWeights, IReadOnlyList<long> columnWeights) => new([.. rowWeights], [.. columnWeights]);

    /// <summary>
    /// Boundaries at the given rows and columns of a <paramref name="height"/> x <paramref name="width"/>
    /// feature map (e.g. the cut's tensor); tensors of other sizes are cut in the same proportions.
    /// </summary>
    public static TileGrid AtPositions(IReadOnlyList<long> rowSplits, IReadOnlyList<long> columnSplits, long height, long width) =>
        new(FromPositions(rowSplits, height, "row"), FromPositions(columnSplits, width, "column"));

    /// <summary>
    /// Parses <c>RxC</c>, where each side is a count (<c>2x2</c>) or comma-separated weights
    /// (<c>3,1x2</c>: two rows, the first three times as high, and two even columns).
    /// </summary>
    public static TileGrid Parse(string text)
    {
        var sides = text.Trim().Split('x', 'X');
        if (sides.Length != 2)
        {
            throw new BadInputException($"--tiles '{text}' is not RxC; write e.g. 2x2, or weights such as 3,1x1,1");
        }
        return new TileGrid(ParseSide(sides[0], text), ParseSide(sides[1], text));
    }

    /// <summary>Rows of tile row <paramref name="row"/> in a tensor <paramref name="height"/> high.</summary>
    public PixelRange RowRange(int row, long height) => Range(_rows, row, height);

    /// <summary>Columns of tile column <paramref name="column"/> in a tensor <paramref name="width"/> wide.</summary>
    public PixelRange ColumnRange(int column, long width) => Range(_columns, column, width);

    /// <summary>The region of tile <paramref name="tile"/> in a <paramref name="height"/> x <paramref name="width"/> tensor.</summary>
    public TileRegion Region(int tile, long height, long width) =>
        new(RowRange(tile / Columns, height), ColumnRange(tile % Columns, width));

    public bool Equals(TileGrid? other) => other is not null && _rows.AsSpan().SequenceEqual(other._rows) && _columns.AsSpan().SequenceEqual(other._columns);

    public override bool Equals(object? obj) => Equals(obj as TileGrid);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var w in _rows)
        {
            hash.Add(w);
        }
        hash.Add(-1L);
        foreach (var w in _columns)
        {
            hash.Add(w);
        }
        return hash.ToHashCode();
    }

    /// <summary><c>2x2</c> for even grids, else the weights: <c>3,1x1,1</c>.</summary>
    public override string ToString() => $"{Describe(_rows)}x{Describe(_columns)}";

    private static string Describe(long[] weights) =>
        weights.All(w => w == weights[0]) ? weights.Length.ToString(CultureInfo.InvariantCulture) : string.Join(',', weights);

    /// <summary>Boundary k is round(extent x weights before k / total), so equal weights split as evenly as integers allow.</summary>
    private static PixelRange Range(long[] weights, int index, long extent)
    {
        var total = weights.Sum();
        long before = 0;
        for (var i = 0; i < index; i++)
        {
            before += weights[i];
        }
        return new PixelRange(Boundary(extent, before, total), Boundary(extent, before + weights[index], total));
    }

    private static long Boundary(long extent, long cumulative, long total) =>
        (long)((((Int128)extent * cumulative * 2) + total) / (total * 2));

    private static long[] FromPositions(IReadOnlyList<long> splits, long extent, string axis)
    {
        var weights = new long[splits.Count + 1];
        long previous = 0;
        for (var i = 0; i <= splits.Count; i++)
        {
            var position = i < splits.Count ? splits[i] : extent;
            if (position <= previous || position > extent)
            {
                throw new BadInputException($"{axis} splits must be ascending inside 1..{extent - 1}, got {string.Join(',', splits)}");
            }
            weights[i] = position - previous;
            previous = position;
        }
        return weights;
    }

    private static long[] ParseSide(string side, string text)
    {
        var parts = side.Split(',', StringSplitOptions.TrimEntries);
        var values = new long[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]) || values[i] <= 0 || values[i] > 1_000_000)
            {
                throw new BadInputException($"--tiles '{text}' is not RxC; each side is a count (2x2) or positive weights (3,1x1,1)");
            }
        }
        return parts.Length == 1 ? [.. Enumerable.Repeat(1L, (int)Math.Min(values[0], 65))] : values;
    }
}
