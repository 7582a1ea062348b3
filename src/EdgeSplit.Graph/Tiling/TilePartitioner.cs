using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace EdgeSplit.Graph.Tiling;

/// <summary>
/// The standalone ONNX partitions of one tile group, each a <see cref="Partition"/> as agents
/// load them: <see cref="Scatter"/> (on the device holding the frame: the image in, one slice
/// per tile out, halos included), <see cref="Tiles"/>[k] (nodes 0..cut on tile k's slice, out
/// the tile's share of every feature map alive across the cut) and <see cref="Gather"/> (every
/// tile's share in, the cut's tensors out, exactly as the layer-wise partition after the cut
/// receives them). Scatter and Gather run no model nodes: their node range is empty
/// (<c>LastNode = FirstNode - 1</c>).
/// </summary>
public sealed record TileGroupPartitions(TileLayout Layout, Partition Scatter, IReadOnlyList<Partition> Tiles, Partition Gather)
{
    /// <summary>What tile <paramref name="tile"/> receives: its slice of <paramref name="image"/>.</summary>
    public static string TileInputName(int tile, string image) => $"tile{tile}/{image}";

    /// <summary>What tile <paramref name="tile"/> sends to the gatherer: its region of <paramref name="tensor"/>.</summary>
    public static string TileOutputName(int tile, string tensor) => $"tile{tile}/{tensor}";
}

/// <summary>
/// Writes the partitions of a <see cref="TileLayout"/>. Each tile runs the prefix's own nodes on
/// its slice of the image; convolutions and pools keep their padding only where the tile touches
/// the image border (interior borders read the real neighbour pixels of the halo), and Slice
/// nodes crop each input to what its consumer reads, so residual branches stay aligned.
/// </summary>
public sealed class TilePartitioner
{
    private readonly OnnxModel _model;
    private readonly IReadOnlyDictionary<string, DataType> _types;

    /// <param name="model">The model the layouts come from.</param>
    /// <param name="measuredTypes">Element types seen in a run, for tensors no rule types; may be null.</param>
    public TilePartitioner(OnnxModel model, IReadOnlyDictionary<string, DataType>? measuredTypes = null)
    {
        _model = model;
        _types = measuredTypes is null
            ? model.ElementTypes
            : model.ElementTypes.Concat(measuredTypes).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
    }

    public TileGroupPartitions Build(TileLayout layout)
    {
        if (layout.Analysis.Model != _model)
        {
            throw new ArgumentException("the layout was computed for another model", nameof(layout));
        }
        var image = layout.Analysis.Image!;
        var tileInputs = layout.Tiles.Select(t => TileGroupPartitions.TileInputName(t.Index, image)).ToList();
        var scatter = new Partition(0, 0, -1, [image], [image], tileInputs, tileInputs, Scatter(layout));
        var tiles = layout.Tiles.Select(t =>
        {
            var outputs = layout.CutMaps.Select(m => TileGroupPartitions.TileOutputName(t.Index, m)).ToList();
            return new Partition(t.Index, 0, layout.Cut, [tileInputs[t.Index]], [tileInputs[t.Index]], outputs, outputs, Tile(layout, t));
        }).ToList();
        var gatherInputs = layout.Tiles.SelectMany(t => layout.CutMaps.Select(m => TileGroupPartitions.TileOutputName(t.Index, m))).ToList();
        var live = _model.Cuts[layout.Cut].Tensors;
        var gather = new Partition(0, layout.Cut + 1, layout.Cut, gatherInputs, gatherInputs, live, live, Gather(layout));
        return new TileGroupPartitions(layout, scatter, tiles, gather);
    }

    private byte[] Scatter(TileLayout layout)
    {
        var image = layout.Analysis.Image!;
        var shape = layout.Analysis.SpatialShape(image)!;
        var writer = new TileGraphWriter(_model, $"{_model.Proto.Graph.Name}_scatter");
        writer.Input(image, TypeOf(image), shape);
        var whole = new TileRegion(new PixelRange(0, shape[2]), new PixelRange(0, shape[3]));
        foreach (var tile in layout.Tiles)
        {
            var name = TileGroupPartitions.TileInputName(tile.Index, image);
            writer.Crop(image, whole, tile.Input, name);
            writer.Output(name, TypeOf(image), Shape(shape, tile.Input));
        }
        return writer.ToBytes();
    }

    private byte[] Tile(TileLayout layout, TileFootprint tile)
    {
        var analysis = layout.Analysis;
        var image = analysis.Image!;
        var writer = new TileGraphWriter(_model, $"{_model.Proto.Graph.Name}_tile{tile.Index}");
        var tileInput = TileGroupPartitions.TileInputName(tile.Index, image);
        writer.Input(tileInput, TypeOf(image), Shape(analysis.SpatialShape(image)!, tile.Input));
        string Local(string tensor) => tensor == image ? tileInput : tensor;

        var crops = new Dictionary<(string, TileRegion), string>();
        string Cropped(string tensor, TileRegion wanted)
        {
            var available = tile.Computed[tensor];
            if (available == wanted)
            {
                return Local(tensor);
            }
            if (!crops.TryGetValue((tensor, wanted), out var name))
            {
                name = writer.FreshName(tensor);
                writer.Crop(Local(tensor), available, wanted, name);
                crops[(tensor, wanted)] = name;
            }
            return name;
        }

        var neededConstants = ConstantNodesNeeded(layout, tile);
        for (var p = 0; p <= layout.Cut; p++)
        {
            var original = _model.Nodes[p];
            if (analysis.NodeAt(p) is not { } node)
            {
                if (neededConstants.Contains(p))
                {
                    CopyInputs(writer, p);
                    writer.Add(original);
                }
                continue;
            }
            if (tile.NodeOutputs[p] is not { } region)
            {
                continue;
            }
            CopyInputs(writer, p);
            var copy = original.Clone();
            foreach (var input in node.SpatialInputs.Distinct(StringComparer.Ordinal))
            {
                var shape = analysis.SpatialShape(input)!;
                var needed = node.Needed(region);
                var wanted = new TileRegion(needed.Rows.Clip(shape[2]), needed.Columns.Clip(shape[3]));
                var local = Cropped(input, wanted);
                for (var i = 0; i < copy.Input.Count; i++)
                {
                    if (copy.Input[i] == input)
                    {
                        copy.Input[i] = local;
                    }
                }
                if (node.Kind != SpatialKind.Pointwise)
                {
                    Repad(writer, copy, node, region, shape, wanted);
                }
            }
            writer.Add(copy);
        }
        foreach (var map in layout.CutMaps)
        {
            var name = TileGroupPartitions.TileOutputName(tile.Index, map);
            var region = tile.Outputs[map];
            writer.Crop(Cropped(map, region), region, region, name);
            writer.Output(name, TypeOf(map), Shape(analysis.SpatialShape(map)!, region));
        }
        return writer.ToBytes();
    }

    private byte[] Gather(TileLayout layout)
    {
        var writer = new TileGraphWriter(_model, $"{_model.Proto.Graph.Name}_gather");
        var grid = layout.Grid;
        foreach (var map in layout.CutMaps)
        {
            var shape = layout.Analysis.SpatialShape(map)!;
            foreach (var tile in layout.Tiles)
            {
                writer.Input(TileGroupPartitions.TileOutputName(tile.Index, map), TypeOf(map), Shape(shape, tile.Outputs[map]));
            }
            var rows = new List<string>(grid.Rows);
            for (var r = 0; r < grid.Rows; r++)
            {
                var row = grid.Rows == 1 ? map : writer.FreshName(map);
                writer.Concat([.. Enumerable.Range(r * grid.Columns, grid.Columns).Select(k => TileGroupPartitions.TileOutputName(k, map))], 3, row);
                rows.Add(row);
            }
            if (grid.Rows > 1)
            {
                writer.Concat(rows, 2, map);
            }
        }
        // Tensors computed from constants alone cross the cut too: the gatherer recomputes them.
        var constantNodes = StaticClosure(layout.Analysis, layout.CutConstants, layout.Cut);
        foreach (var p in constantNodes.Order())
        {
            CopyInputs(writer, p);
            writer.Add(_model.Nodes[p]);
        }
        foreach (var tensor in _model.Cuts[layout.Cut].Tensors)
        {
            writer.Output(tensor, TypeOf(tensor), layout.Analysis.SpatialShape(tensor));
        }
        return writer.ToBytes();
    }

    /// <summary>Sets the padding (and ceil mode) of a window node's copy so it computes exactly <paramref name="region"/> from <paramref name="input"/>.</summary>
    private void Repad(TileGraphWriter writer, NodeProto copy, SpatialNode node, TileRegion region, long[] inputShape, TileRegion input)
    {
        var rows = node.Rows.ForTile(region.Rows, inputShape[2], node.OutputHeight);
        var columns = node.Columns.ForTile(region.Columns, inputShape[3], node.OutputWidth);
        // One ceil_mode attribute serves both axes; an exact fit gives the same size either way.
        var ceil = rows.CeilMode || columns.CeilMode;
        rows = rows with { CeilMode = ceil };
        columns = columns with { CeilMode = ceil };
        if (rows.OutputExtent(input.Rows.Length) != region.Rows.Length || columns.OutputExtent(input.Columns.Length) != region.Columns.Length)
        {
            throw new InvalidOperationException(
                $"tiling node {node.Position} ({copy.OpType}) would not give {region} from {input}; this is a bug in the tile arithmetic");
        }
        switch (node.Kind)
        {
            case SpatialKind.Conv or SpatialKind.Pool:
                NodeAttributes.Remove(copy, "auto_pad");
                NodeAttributes.SetInts(copy, "pads", rows.PadBegin, columns.PadBegin, rows.PadEnd, columns.PadEnd);
                if (node.Kind == SpatialKind.Pool && (ceil || NodeAttributes.Find(copy, "ceil_mode") is not null))
                {
                    NodeAttributes.SetInt(copy, "ceil_mode", ceil ? 1 : 0);
                }
                break;
            case SpatialKind.Pad:
                long[] pads = [0, 0, rows.PadBegin, columns.PadBegin, 0, 0, rows.PadEnd, columns.PadEnd];
                if (_model.OpsetVersion < 11)
                {
                    NodeAttributes.SetInts(copy, _model.OpsetVersion < 2 ? "paddings" : "pads", pads);
                }
                else
                {
                    copy.Input[1] = writer.Int64s(pads);
                }
                break;
        }
    }

    /// <summary>Copies the initializers and Constant nodes node <paramref name="position"/> reads.</summary>
    private void CopyInputs(TileGraphWriter writer, int position)
    {
        foreach (var name in _model.InputsOf(position))
        {
            writer.CopyConstant(name);
        }
    }

    /// <summary>Positions of the nodes computed from constants alone that a tile's nodes read, directly or not.</summary>
    private HashSet<int> ConstantNodesNeeded(TileLayout layout, TileFootprint tile)
    {
        var reads = new List<string>();
        for (var p = 0; p <= layout.Cut; p++)
        {
            if (layout.Analysis.NodeAt(p) is not null && tile.NodeOutputs[p] is not null)
            {
                reads.AddRange(_model.InputsOf(p));
            }
        }
        return StaticClosure(layout.Analysis, reads, layout.Cut);
    }

    /// <summary>Positions up to <paramref name="cut"/> of the constant-only nodes that <paramref name="tensors"/> come from, directly or not.</summary>
    private HashSet<int> StaticClosure(SpatialAnalysis analysis, IEnumerable<string> tensors, int cut)
    {
        var wanted = new HashSet<string>(tensors, StringComparer.Ordinal);
        var nodes = new HashSet<int>();
        for (var p = cut; p >= 0; p--)
        {
            if (analysis.NodeAt(p) is null && _model.Nodes[p].Output.Any(wanted.Contains))
            {
                nodes.Add(p);
                wanted.UnionWith(_model.InputsOf(p));
            }
        }
        return nodes;
    }

    private DataType TypeOf(string tensor)
    {
        if (_types.TryGetValue(tensor, out var type))
        {
            return type;
        }
        var producer = _model.ProducerOf(tensor);
        throw new UnknownElementTypeException(tensor, producer >= 0 ? _model.Nodes[producer].OpType : "?");
    }

    private static long[] Shape(long[] full, TileRegion region) => [full[0], full[1], region.Rows.Length, region.Columns.Length];
}
