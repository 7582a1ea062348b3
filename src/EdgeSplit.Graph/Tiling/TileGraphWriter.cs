using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace EdgeSplit.Graph.Tiling;

/// <summary>
/// Builds one standalone ONNX graph of a tile group (scatter, tile or gather) from ONNX
/// operators only: Slice to cut regions, Concat to join them, Identity to rename. Writes each
/// operator in the form the model's opset defines (Slice takes attributes before opset 10).
/// </summary>
internal sealed class TileGraphWriter
{
    private readonly OnnxModel _model;
    private readonly GraphProto _graph;
    private readonly HashSet<string> _constants = new(StringComparer.Ordinal);
    private int _counter;

    public TileGraphWriter(OnnxModel model, string name)
    {
        _model = model;
        _graph = new GraphProto { Name = name };
    }

    public void Input(string name, DataType type, long[] shape) => _graph.Input.Add(ValueInfo(name, type, shape));

    public void Output(string name, DataType type, long[]? shape) => _graph.Output.Add(ValueInfo(name, type, shape));

    public void Add(NodeProto node) => _graph.Node.Add(node);

    /// <summary>Copies the initializer or Constant node behind <paramref name="name"/> once; other names are ignored.</summary>
    public void CopyConstant(string name)
    {
        if (!_model.IsConstant(name) || !_constants.Add(name))
        {
            return;
        }
        if (_model.ConstantNodes.TryGetValue(name, out var node))
        {
            // Constant nodes go first, ahead of every node that may read them.
            _graph.Node.Insert(0, node);
        }
        else if (_model.Initializers.TryGetValue(name, out var initializer))
        {
            _graph.Initializer.Add(initializer);
        }
        else
        {
            _graph.SparseInitializer.Add(_model.Proto.Graph.SparseInitializer.First(s => s.Values?.Name == name));
        }
    }

    /// <summary>Writes <paramref name="input"/> (holding <paramref name="available"/>) cropped to <paramref name="wanted"/>, as <paramref name="output"/>.</summary>
    public void Crop(string input, TileRegion available, TileRegion wanted, string output)
    {
        if (available == wanted)
        {
            Identity(input, output);
            return;
        }
        long[] starts = [wanted.Rows.Start - available.Rows.Start, wanted.Columns.Start - available.Columns.Start];
        long[] ends = [wanted.Rows.End - available.Rows.Start, wanted.Columns.End - available.Columns.Start];
        var node = NewNode("Slice", output, input);
        if (_model.OpsetVersion < 10)
        {
            NodeAttributes.SetInts(node, "starts", starts);
            NodeAttributes.SetInts(node, "ends", ends);
            NodeAttributes.SetInts(node, "axes", 2, 3);
        }
        else
        {
            node.Input.Add(Int64s(starts));
            node.Input.Add(Int64s(ends));
            node.Input.Add(Int64s(2, 3));
        }
        _graph.Node.Add(node);
    }

    public void Concat(IReadOnlyList<string> inputs, int axis, string output)
    {
        if (inputs.Count == 1)
        {
            Identity(inputs[0], output);
            return;
        }
        var node = NewNode("Concat", output, [.. inputs]);
        NodeAttributes.SetInt(node, "axis", axis);
        _graph.Node.Add(node);
    }

    public void Identity(string input, string output) => _graph.Node.Add(NewNode("Identity", output, input));

    /// <summary>A new int64 initializer holding <paramref name="values"/>; returns its name.</summary>
    public string Int64s(params long[] values)
    {
        var name = $"edgesplit_tile_const{_counter++}";
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        _graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>A name no tensor of the model or of this graph has.</summary>
    public string FreshName(string stem) => $"{stem}#tile{_counter++}";

    public byte[] ToBytes() => PartitionModel.Serialize(_model.Proto, _graph);

    private NodeProto NewNode(string op, string output, params string[] inputs)
    {
        var node = new NodeProto { OpType = op, Name = $"edgesplit_tile_{op.ToLowerInvariant()}{_counter++}" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    /// <summary>A typed signature; the shape is left open when <paramref name="shape"/> is null.</summary>
    private static ValueInfoProto ValueInfo(string name, DataType type, long[]? shape)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (shape is not null)
        {
            tensor.Shape = new TensorShapeProto();
            foreach (var d in shape)
            {
                tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            }
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }
}
