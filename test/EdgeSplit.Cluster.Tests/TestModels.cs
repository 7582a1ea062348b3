using Google.Protobuf;
using Onnx;

namespace EdgeSplit.Cluster.Tests;

/// <summary>Tiny ONNX graphs built in code (the zoo is another issue): a residual and an inception-style block.</summary>
internal static class TestModels
{
    public const int Channels = 4, Size = 8;

    /// <summary>x → conv → relu → conv → add(x) → relu → conv → relu: cuts inside the block carry two tensors.</summary>
    public static byte[] Residual(int seed = 1)
    {
        var b = new Builder(seed);
        b.Conv("c1", "x", "h1", Channels, Channels, 3);
        b.Node("Relu", "r1", ["h1"], "h2");
        b.Conv("c2", "h2", "h3", Channels, Channels, 3);
        b.Node("Add", "add", ["x", "h3"], "h4");
        b.Node("Relu", "r2", ["h4"], "h5");
        b.Conv("c3", "h5", "h6", Channels, Channels, 1);
        b.Node("Relu", "r3", ["h6"], "y");
        return b.Build("residual", [Channels, Size, Size], "y", [Channels, Size, Size]);
    }

    /// <summary>Three branches from x concatenated (a cut across the branches carries up to four tensors).</summary>
    public static byte[] Inception(int seed = 2)
    {
        var b = new Builder(seed);
        b.Conv("a", "x", "ba", Channels, 2, 1);
        b.Conv("b1", "x", "bb1", Channels, 2, 1);
        b.Node("Relu", "b2", ["bb1"], "bb2");
        b.Conv("b3", "bb2", "bb", 2, 2, 3);
        b.Conv("c", "x", "bc", Channels, 2, 3);
        b.Node("Concat", "cat", ["ba", "bb", "bc"], "cat", axis: 1);
        b.Node("Relu", "r", ["cat"], "rc");
        b.Conv("out", "rc", "y", 6, Channels, 1);
        return b.Build("inception", [Channels, Size, Size], "y", [Channels, Size, Size]);
    }

    /// <summary>A chain of convolutions on a wide feature map (for transfer and pipelining sizes).</summary>
    public static byte[] Chain(int nodes, int channels, int size, int seed = 3)
    {
        var b = new Builder(seed);
        var previous = "x";
        for (var i = 0; i < nodes; i++)
        {
            var output = i == nodes - 1 ? "y" : $"t{i}";
            if (i % 2 == 0)
            {
                b.Conv($"c{i}", previous, output, channels, channels, 1);
            }
            else
            {
                b.Node("Relu", $"r{i}", [previous], output);
            }
            previous = output;
        }
        return b.Build("chain", [channels, size, size], "y", [channels, size, size]);
    }

    private sealed class Builder(int seed)
    {
        private readonly GraphProto _graph = new() { Name = "g" };
        private readonly Random _random = new(seed);

        public void Conv(string name, string input, string output, int inChannels, int outChannels, int kernel)
        {
            var weights = Enumerable.Range(0, outChannels * inChannels * kernel * kernel).Select(_ => (float)(_random.NextDouble() - 0.5)).ToArray();
            var bias = Enumerable.Range(0, outChannels).Select(_ => (float)(_random.NextDouble() - 0.5) * 0.1f).ToArray();
            Initializer($"{name}_w", [outChannels, inChannels, kernel, kernel], weights);
            Initializer($"{name}_b", [outChannels], bias);
            var node = new NodeProto { Name = name, OpType = "Conv" };
            node.Input.Add([input, $"{name}_w", $"{name}_b"]);
            node.Output.Add(output);
            var pad = kernel / 2;
            node.Attribute.Add(new AttributeProto { Name = "pads", Type = AttributeProto.Types.AttributeType.Ints, Ints = { pad, pad, pad, pad } });
            node.Attribute.Add(new AttributeProto { Name = "kernel_shape", Type = AttributeProto.Types.AttributeType.Ints, Ints = { kernel, kernel } });
            _graph.Node.Add(node);
        }

        public void Node(string op, string name, string[] inputs, string output, long? axis = null)
        {
            var node = new NodeProto { Name = name, OpType = op };
            node.Input.Add(inputs);
            node.Output.Add(output);
            if (axis is not null)
            {
                node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis.Value });
            }
            _graph.Node.Add(node);
        }

        private void Initializer(string name, long[] dims, float[] values)
        {
            var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            tensor.Dims.Add(dims);
            tensor.FloatData.Add(values);
            _graph.Initializer.Add(tensor);
        }

        public byte[] Build(string name, long[] inputDims, string output, long[] outputDims)
        {
            _graph.Name = name;
            _graph.Input.Add(Value("x", [1, .. inputDims]));
            _graph.Output.Add(Value(output, [1, .. outputDims]));
            var model = new ModelProto { IrVersion = 8, ProducerName = "edgesplit-tests", Graph = _graph };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
            return model.ToByteArray();
        }

        private static ValueInfoProto Value(string name, long[] dims)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }
    }
}
