using Onnx;
using static EdgeSplit.Tests.TestGraph;

namespace EdgeSplit.Tests;

/// <summary>
/// Small graphs for tiling: every spatial operator kind at awkward sizes (odd, stride 2,
/// dilation, ceil mode, asymmetric and automatic padding, explicit Pad, residual downsampling)
/// and the operators that end a tileable prefix.
/// </summary>
public static class TileModels
{
    /// <summary>Odd input, strided and dilated convolutions, ceil-mode max and average pools, average pool counting padding or not.</summary>
    public static ModelProto OddStridedDilated()
    {
        var g = new TestGraph(seed: 11);
        var x = g.Input("image", 1, 3, 79, 63);
        x = g.Relu(Conv(g, x, 3, 6, [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]));
        x = g.BatchNorm(Conv(g, x, 6, 6, [5, 5], dilations: [2, 2], pads: [4, 4, 4, 4]), 6);
        x = g.Op("MaxPool", [x], IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 2, 2), IntAttr("ceil_mode", 1));
        x = g.Op("AveragePool", [x], IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 2, 2), IntsAttr("pads", 1, 1, 1, 1),
            IntAttr("count_include_pad", 1), IntAttr("ceil_mode", 1));
        x = g.Relu(Conv(g, x, 6, 8, [1, 1]));
        x = g.Op("AveragePool", [x], IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 1, 1), IntsAttr("pads", 1, 0, 0, 1), IntAttr("count_include_pad", 0));
        // Stride above kernel in ceil mode: a last window that would start past the input is dropped.
        x = g.Op("MaxPool", [x], IntsAttr("kernel_shape", 1, 1), IntsAttr("strides", 4, 4), IntAttr("ceil_mode", 1));
        g.Output(Head(g, x), 1, 8);
        return g.Build();
    }

    /// <summary>Asymmetric kernels, strides, pads and dilations; auto_pad SAME_UPPER, SAME_LOWER and VALID; a dilated max pool.</summary>
    public static ModelProto AsymmetricAndAutoPadding()
    {
        var g = new TestGraph(seed: 12);
        var x = g.Input("image", 1, 2, 61, 97);
        x = g.Relu(Conv(g, x, 2, 4, [3, 5], strides: [1, 2], pads: [0, 2, 2, 1], dilations: [2, 1]));
        x = Conv(g, x, 4, 4, [4, 4], strides: [2, 2], autoPad: "SAME_UPPER");
        x = g.Op("MaxPool", [x], IntsAttr("kernel_shape", 2, 3), IntsAttr("strides", 1, 2), IntsAttr("dilations", 2, 1), IntsAttr("pads", 1, 0, 1, 2));
        x = g.Relu(Conv(g, x, 4, 5, [3, 3], strides: [3, 3], autoPad: "SAME_LOWER"));
        x = Conv(g, x, 5, 5, [2, 2], autoPad: "VALID");
        g.Output(Head(g, x), 1, 5);
        return g.Build();
    }

    /// <summary>An explicit constant Pad before an unpadded convolution, in opset 13 (pads as an input) or 9 (pads as an attribute, Slice with attributes).</summary>
    public static ModelProto ExplicitPad(long opset = 13)
    {
        var g = new TestGraph(opset, seed: 13);
        var x = g.Input("image", 1, 3, 23, 26);
        var pads = new long[] { 0, 0, 1, 2, 0, 0, 2, 1 };
        x = opset >= 11
            ? g.Op("Pad", [x, g.Ints(pads), g.Constant(0.5f)])
            : g.Op("Pad", [x], IntsAttr("pads", pads), FloatAttr("value", 0.5f));
        x = g.Relu(Conv(g, x, 3, 4, [3, 3], strides: [2, 2]));
        x = g.Relu(Conv(g, x, 4, 4, [3, 3], pads: [1, 1, 1, 1]));
        g.Output(Head(g, x), 1, 4);
        return g.Build();
    }

    /// <summary>
    /// A ResNet downsampling block (3x3 stride-2 main branch, 1x1 stride-2 shortcut, Add), then a
    /// MobileNet-style depthwise conv with ReLU6 (Clip), a per-channel scale, PReLU, LRN, a
    /// channel Concat and a channel Softmax.
    /// </summary>
    public static ModelProto ResidualDepthwise()
    {
        var g = new TestGraph(opset: 13, seed: 14);
        var x = g.Relu(Conv(g, g.Input("image", 1, 3, 30, 33), 3, 8, [3, 3], pads: [1, 1, 1, 1]));
        var main = g.Relu(g.BatchNorm(Conv(g, x, 8, 8, [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), 8));
        main = g.BatchNorm(Conv(g, main, 8, 8, [3, 3], pads: [1, 1, 1, 1]), 8);
        var shortcut = g.BatchNorm(Conv(g, x, 8, 8, [1, 1], strides: [2, 2]), 8);
        x = g.Relu(g.Op("Add", [main, shortcut]));
        var depthwise = g.Op("Conv", [x, g.Weight(8, 1, 3, 3)], IntsAttr("pads", 1, 1, 1, 1), IntAttr("group", 8));
        depthwise = g.Op("Clip", [depthwise, g.Constant(0f), g.Constant(6f)]);
        var scaled = g.Op("Mul", [depthwise, g.Weight(8, 1, 1)]);
        var prelu = g.Op("PRelu", [scaled, g.Weight(8, 1, 1)]);
        var lrn = g.Op("LRN", [prelu], IntAttr("size", 3));
        var joined = g.Op("Concat", [lrn, x], IntAttr("axis", 1));
        var softmax = g.Op("Softmax", [joined], IntAttr("axis", 1));
        g.Output(Head(g, softmax), 1, 16);
        return g.Build();
    }

    /// <summary>An Lp pool, a quantize/dequantize pair, HardSwish, Dropout (inference), and elementwise ops with scalar constants (opset 14).</summary>
    public static ModelProto LpPoolQuantizedElementwise()
    {
        var g = new TestGraph(opset: 14, seed: 18);
        var x = g.Relu(Conv(g, g.Input("image", 1, 3, 27, 35), 3, 4, [3, 3], pads: [1, 1, 1, 1]));
        x = g.Op("LpPool", [x], IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 2, 2), IntsAttr("pads", 1, 1, 1, 1), IntAttr("p", 2));
        var zeroPoint = g.Op("Cast", [g.Constant(128f)], IntAttr("to", (long)TensorProto.Types.DataType.Uint8));
        var quantized = g.Op("QuantizeLinear", [x, g.Constant(0.05f), zeroPoint]);
        x = g.Op("DequantizeLinear", [quantized, g.Constant(0.05f), zeroPoint]);
        x = g.Op("HardSwish", [g.Op("Sub", [x, g.Constant(0.5f)])]);
        x = g.Op("Dropout", [g.Op("Div", [x, g.Constant(2f)])]);
        x = g.Op("Max", [x, g.Op("Sigmoid", [Conv(g, x, 4, 4, [1, 1])])]);
        g.Output(Head(g, x), 1, 4);
        return g.Build();
    }

    /// <summary>A chain that upsamples with Resize: the prefix ends there.</summary>
    public static ModelProto WithResize()
    {
        var g = new TestGraph(seed: 15);
        var x = g.Relu(g.Conv(g.Input("image", 1, 3, 16, 16), 3, 4));
        x = g.Op("Resize", [x, "", g.Floats(1, 1, 2, 2)], new AttributeProto { Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("nearest") });
        g.Output(x, 1, 4, 32, 32);
        return g.Build();
    }

    /// <summary>A custom-domain operator after one convolution: unknown to the tiler, so it ends the prefix.</summary>
    public static ModelProto WithCustomOperator()
    {
        var g = new TestGraph(seed: 16);
        var x = g.Relu(g.Conv(g.Input("image", 1, 3, 8, 8), 3, 4));
        var custom = g.Op("FancyBlur", [x]);
        g.Output(custom, 1, 4, 8, 8);
        var model = g.Build();
        model.Graph.Node.Single(n => n.OpType == "FancyBlur").Domain = "com.example";
        return model;
    }

    /// <summary>Three 3x3 convolutions (padding 1, one channel) on 16x16: the receptive field grows by one pixel a side per layer.</summary>
    public static ModelProto ThreeConvs()
    {
        var g = new TestGraph(seed: 17);
        var x = g.Input("image", 1, 1, 16, 16);
        for (var i = 0; i < 3; i++)
        {
            x = Conv(g, x, 1, 1, [3, 3], pads: [1, 1, 1, 1]);
        }
        g.Output(Head(g, x), 1, 1);
        return g.Build();
    }

    public static IEnumerable<(string Name, ModelProto Model)> All()
    {
        yield return ("odd-strided-dilated", OddStridedDilated());
        yield return ("asymmetric-auto-padding", AsymmetricAndAutoPadding());
        yield return ("explicit-pad", ExplicitPad());
        yield return ("explicit-pad-opset9", ExplicitPad(opset: 9));
        yield return ("residual-depthwise", ResidualDepthwise());
        yield return ("lp-pool-quantized", LpPoolQuantizedElementwise());
        yield return ("three-convs", ThreeConvs());
    }

    private static string Conv(TestGraph g, string x, long inChannels, long outChannels, long[] kernel,
        long[]? strides = null, long[]? pads = null, long[]? dilations = null, string? autoPad = null)
    {
        var attributes = new List<AttributeProto> { IntsAttr("kernel_shape", kernel) };
        if (strides is not null)
        {
            attributes.Add(IntsAttr("strides", strides));
        }
        if (pads is not null)
        {
            attributes.Add(IntsAttr("pads", pads));
        }
        if (dilations is not null)
        {
            attributes.Add(IntsAttr("dilations", dilations));
        }
        if (autoPad is not null)
        {
            attributes.Add(new AttributeProto { Name = "auto_pad", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(autoPad) });
        }
        return g.Op("Conv", [x, g.Weight(outChannels, inChannels, kernel[0], kernel[1]), g.Weight(outChannels)], [.. attributes]);
    }

    /// <summary>Global pooling and Flatten: where every tileable prefix of these models ends.</summary>
    private static string Head(TestGraph g, string x) => g.Op("Flatten", [g.Op("GlobalAveragePool", [x])]);
}
