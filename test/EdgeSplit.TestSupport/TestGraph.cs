using Google.Protobuf;
using Onnx;

namespace EdgeSplit.Tests;

/// <summary>
/// A terse builder of small ONNX graphs for tests: the shapes of real architectures (residual,
/// inception, dense, squeeze-excite, attention) at toy sizes, with seeded weights.
/// </summary>
public sealed class TestGraph
{
    private readonly GraphProto _graph = new() { Name = "test" };
    private readonly Random _random;
    private readonly long _opset;
    private int _counter;

    public TestGraph(long opset = 13, int seed = 7)
    {
        _opset = opset;
        _random = new Random(seed);
    }

    /// <summary>Declares a float input; a string dimension is symbolic.</summary>
    public string Input(string name, params object[] dims)
    {
        _graph.Input.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));
        return name;
    }

    public string Weight(params long[] dims)
    {
        var name = $"w{_counter++}";
        var count = (int)dims.Aggregate(1L, (a, d) => a * d);
        var scale = dims.Length > 1 ? Math.Sqrt(2.0 / (count / dims[0])) : 0.1;
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        for (var i = 0; i < count; i++)
        {
            tensor.FloatData.Add((float)(((_random.NextDouble() * 2) - 1) * scale));
        }
        _graph.Initializer.Add(tensor);
        return name;
    }

    public string Ints(params long[] values)
    {
        var name = $"i{_counter++}";
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        _graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>A float initializer holding exactly <paramref name="values"/> (a 1-D tensor).</summary>
    public string Floats(params float[] values)
    {
        var name = $"f{_counter++}";
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.Add(values.Length);
        tensor.FloatData.AddRange(values);
        _graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>A Constant node holding a float tensor (constants are data, never cut tensors).</summary>
    public string Constant(float value, params long[] dims)
    {
        var name = $"c{_counter++}";
        var tensor = new TensorProto { DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        var count = (int)dims.Aggregate(1L, (a, d) => a * d);
        for (var i = 0; i < count; i++)
        {
            tensor.FloatData.Add(value);
        }
        var node = new NodeProto { OpType = "Constant", Name = name };
        node.Output.Add(name);
        node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = tensor });
        _graph.Node.Add(node);
        return name;
    }

    public string Op(string opType, string[] inputs, params AttributeProto[] attributes) => Ops(opType, inputs, 1, attributes)[0];

    /// <summary>A node whose one output gets a chosen name (a graph output such as <c>y</c>).</summary>
    public string OpNamed(string output, string opType, string[] inputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType.ToLowerInvariant()}{_counter++}" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return output;
    }

    public string[] Ops(string opType, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var id = _counter++;
        var node = new NodeProto { OpType = opType, Name = $"{opType.ToLowerInvariant()}{id}" };
        node.Input.AddRange(inputs);
        var names = Enumerable.Range(0, outputs).Select(k => $"t{id}_{k}").ToArray();
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return names;
    }

    public string Conv(string x, long inChannels, long outChannels, long kernel = 3, long groups = 1) =>
        Op("Conv", [x, Weight(outChannels, inChannels / groups, kernel, kernel), Weight(outChannels)],
            IntsAttr("pads", kernel / 2, kernel / 2, kernel / 2, kernel / 2), IntAttr("group", groups));

    public string BatchNorm(string x, long channels)
    {
        var scale = Weight(channels);
        var bias = Weight(channels);
        var mean = Weight(channels);
        var variance = Op("Abs", [Weight(channels)]);
        return Op("BatchNormalization", [x, scale, bias, mean, Op("Add", [variance, Constant(1f)])]);
    }

    public string Relu(string x) => Op("Relu", [x]);

    public void Output(string name, params object[] dims) =>
        _graph.Output.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));

    /// <summary>Reverses the node list, so the file is not in topological order.</summary>
    public TestGraph Shuffled()
    {
        var nodes = _graph.Node.Reverse().ToList();
        _graph.Node.Clear();
        _graph.Node.AddRange(nodes);
        return this;
    }

    public ModelProto Build()
    {
        var model = new ModelProto { IrVersion = _opset >= 21 ? 10 : 7, ProducerName = "edgesplit-tests", Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = _opset });
        return model;
    }

    public byte[] Bytes() => Build().ToByteArray();

    public static AttributeProto IntAttr(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto FloatAttr(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto IntsAttr(string name, params long[] values)
    {
        var attr = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attr.Ints.AddRange(values);
        return attr;
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d is string symbol
                ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) });
        }
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (dims.Length > 0)
        {
            tensor.Shape = shape;
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }
}
