using Google.Protobuf;
using Onnx;

namespace EdgeSplit.Zoo;

/// <summary>
/// Appends named ONNX nodes and their seeded initializers to one graph, one PyTorch module at a
/// time. Each op returns the name of the tensor it produces, which is the node's own name, so the
/// graph reads like the module tree (<c>layer1.0.conv1</c> produces <c>layer1.0.conv1</c>).
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private const float ReluGain = 2f;
    private readonly GraphProto graph = new();
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private readonly ulong seed;
    private readonly bool includeWeights;
    private string? relu6Min;
    private string? relu6Max;

    public OnnxGraphBuilder(string graphName, ulong seed, bool includeWeights)
    {
        graph.Name = graphName;
        this.seed = seed;
        this.includeWeights = includeWeights;
    }

    public string Input(string name, params long[] shape)
    {
        Claim(name);
        graph.Input.Add(FloatValueInfo(name, shape));
        return name;
    }

    public void Output(string name, string tensor, params long[] shape)
    {
        // The producing node keeps its module name; only its output tensor takes the graph output's name.
        if (tensor != name)
        {
            Claim(name);
            foreach (var node in graph.Node)
            {
                Rename(node.Output, tensor, name);
                Rename(node.Input, tensor, name);
            }
        }
        graph.Output.Add(FloatValueInfo(name, shape));
    }

    /// <summary>Conv2d; <paramref name="gain"/> is the weight variance times fan-in (2 before a ReLU, 1 before a linear output).</summary>
    public string Conv(string name, string x, int inChannels, int outChannels, (int H, int W) kernel,
        (int H, int W)? stride = null, (int H, int W)? padding = null, int groups = 1, bool bias = true, float gain = ReluGain)
    {
        var (strideH, strideW) = stride ?? (1, 1);
        var (padH, padW) = padding ?? (0, 0);
        var fanIn = inChannels / groups * kernel.H * kernel.W;
        var weight = Weight($"{name}.weight", [outChannels, inChannels / groups, kernel.H, kernel.W], gain, fanIn);
        List<string> inputs = [x, weight];
        if (bias)
        {
            inputs.Add(Bias($"{name}.bias", outChannels, fanIn));
        }
        return Node("Conv", name, inputs,
            Ints("kernel_shape", kernel.H, kernel.W),
            Ints("strides", strideH, strideW),
            Ints("pads", padH, padW, padH, padW),
            Ints("dilations", 1, 1),
            Int("group", groups));
    }

    /// <summary>Square-kernel shorthand for <see cref="Conv(string, string, int, int, ValueTuple{int, int}, ValueTuple{int, int}?, ValueTuple{int, int}?, int, bool, float)"/>.</summary>
    public string Conv(string name, string x, int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0,
        int groups = 1, bool bias = true, float gain = ReluGain) =>
        Conv(name, x, inChannels, outChannels, (kernel, kernel), (stride, stride), (padding, padding), groups, bias, gain);

    /// <summary>
    /// BatchNormalization in inference form with its four initializers: scale and bias (learned,
    /// counted as parameters) and running mean and variance (buffers, not counted).
    /// </summary>
    public string BatchNorm(string name, string x, int channels, float epsilon = 1e-5f, float scaleCenter = 1f)
    {
        var scale = Tensor($"{name}.weight", [channels], scaleCenter, 0.1f * scaleCenter);
        var bias = Tensor($"{name}.bias", [channels], 0f, 0.05f);
        var mean = Tensor($"{name}.running_mean", [channels], 0f, 0.05f);
        var variance = Tensor($"{name}.running_var", [channels], 1f, 0.1f);
        return Node("BatchNormalization", name, [x, scale, bias, mean, variance],
            Float("epsilon", epsilon), Float("momentum", 0.9f));
    }

    public string Relu(string name, string x) => Node("Relu", name, [x]);

    /// <summary>ReLU6 as Clip(0, 6); the bounds are shared scalar initializers, which are not parameters.</summary>
    public string Relu6(string name, string x)
    {
        relu6Min ??= ScalarConstant("relu6.min", 0f);
        relu6Max ??= ScalarConstant("relu6.max", 6f);
        return Node("Clip", name, [x, relu6Min, relu6Max]);
    }

    public string MaxPool(string name, string x, int kernel, int stride, int padding = 0, bool ceilMode = false) =>
        Node("MaxPool", name, [x],
            Ints("kernel_shape", kernel, kernel),
            Ints("strides", stride, stride),
            Ints("pads", padding, padding, padding, padding),
            Int("ceil_mode", ceilMode ? 1 : 0));

    /// <summary>AvgPool2d with PyTorch's default <c>count_include_pad=True</c>.</summary>
    public string AveragePool(string name, string x, int kernel, int stride, int padding = 0) =>
        Node("AveragePool", name, [x],
            Ints("kernel_shape", kernel, kernel),
            Ints("strides", stride, stride),
            Ints("pads", padding, padding, padding, padding),
            Int("count_include_pad", 1));

    public string GlobalAveragePool(string name, string x) => Node("GlobalAveragePool", name, [x]);

    public string Flatten(string name, string x) => Node("Flatten", name, [x], Int("axis", 1));

    /// <summary>nn.Linear as Gemm with the PyTorch weight layout [out, in] (transB = 1).</summary>
    public string Linear(string name, string x, int inFeatures, int outFeatures, float gain = ReluGain)
    {
        var weight = Weight($"{name}.weight", [outFeatures, inFeatures], gain, inFeatures);
        var bias = Bias($"{name}.bias", outFeatures, inFeatures);
        return Node("Gemm", name, [x, weight, bias], Float("alpha", 1f), Float("beta", 1f), Int("transB", 1));
    }

    public string Add(string name, string a, string b) => Node("Add", name, [a, b]);

    public string Concat(string name, params string[] inputs) => Node("Concat", name, inputs, Int("axis", 1));

    public ModelProto ToModel(string docString)
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "EdgeSplit.Zoo",
            ProducerVersion = "1",
            DocString = docString,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    private string Node(string opType, string name, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        Claim(name);
        var node = new NodeProto { Name = name, OpType = opType };
        node.Input.AddRange(inputs);
        node.Output.Add(name);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return name;
    }

    private string Weight(string name, long[] dims, float gain, int fanIn) =>
        // Uniform with variance gain / fan_in (Kaiming): activations keep their scale through deep stacks.
        Tensor(name, dims, 0f, MathF.Sqrt(3f * gain / fanIn));

    private string Bias(string name, int count, int fanIn) =>
        // PyTorch's default bias init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        Tensor(name, [count], 0f, 1f / MathF.Sqrt(fanIn));

    private string Tensor(string name, long[] dims, float center, float bound)
    {
        Claim(name);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        if (includeWeights)
        {
            var count = dims.Aggregate(1L, (a, b) => a * b);
            tensor.RawData = UnsafeByteOperations.UnsafeWrap(SeededWeights.Uniform(SeededWeights.SeedFor(seed, name), count, center, bound));
        }
        graph.Initializer.Add(tensor);
        return name;
    }

    private string ScalarConstant(string name, float value)
    {
        Claim(name);
        // Scalars are written even in structure-only builds: they are operator arguments, not weights.
        graph.Initializer.Add(new TensorProto
        {
            Name = name,
            DataType = (int)TensorProto.Types.DataType.Float,
            RawData = UnsafeByteOperations.UnsafeWrap(SeededWeights.Scalar(value)),
        });
        return name;
    }

    private void Claim(string name)
    {
        if (!names.Add(name))
        {
            throw new InvalidOperationException($"The zoo builder named two things '{name}'; every node and tensor name must be unique.");
        }
    }

    private static void Rename(Google.Protobuf.Collections.RepeatedField<string> tensors, string from, string to)
    {
        for (var i = 0; i < tensors.Count; i++)
        {
            if (tensors[i] == from)
            {
                tensors[i] = to;
            }
        }
    }

    private static ValueInfoProto FloatValueInfo(string name, long[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (var dim in shape)
        {
            tensorShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = tensorShape },
            },
        };
    }

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
}
