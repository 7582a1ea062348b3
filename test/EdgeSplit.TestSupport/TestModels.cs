using Onnx;
using static EdgeSplit.Tests.TestGraph;

namespace EdgeSplit.Tests;

/// <summary>
/// Toy-sized graphs with the shapes of the exporters' models EdgeSplit must cut: torchvision's
/// ResNet, GoogLeNet, DenseNet, EfficientNet and ViT, and PaddleOCR's dynamic height and width.
/// </summary>
public static class TestModels
{
    /// <summary>conv-bn-relu chain: every cut holds one tensor.</summary>
    public static ModelProto Chain(long opset = 13)
    {
        var g = new TestGraph(opset);
        var x = g.Input("input", 1, 3, 8, 8);
        x = g.Relu(g.BatchNorm(g.Conv(x, 3, 4), 4));
        x = g.Relu(g.Conv(x, 4, 4));
        x = g.Op("MaxPool", [x], IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2));
        x = g.Op("GlobalAveragePool", [x]);
        x = g.Op("Flatten", [x]);
        x = g.Op("Gemm", [x, g.Weight(5, 4), g.Weight(5)], IntAttr("transB", 1));
        g.Output(x, 1, 5);
        return g.Build();
    }

    /// <summary>Two ResNet basic blocks: cuts inside a block hold the block input and the branch.</summary>
    public static ModelProto Residual()
    {
        var g = new TestGraph();
        var x = g.Relu(g.Conv(g.Input("input", 1, 3, 8, 8), 3, 4));
        for (var block = 0; block < 2; block++)
        {
            var y = g.Relu(g.BatchNorm(g.Conv(x, 4, 4), 4));
            y = g.BatchNorm(g.Conv(y, 4, 4), 4);
            x = g.Relu(g.Op("Add", [y, x]));
        }
        g.Output(g.Op("Flatten", [g.Op("GlobalAveragePool", [x])]), 1, 4);
        return g.Build();
    }

    /// <summary>A GoogLeNet inception block: four branches concatenated.</summary>
    public static ModelProto Inception()
    {
        var g = new TestGraph();
        var x = g.Relu(g.Conv(g.Input("input", 1, 3, 8, 8), 3, 4));
        var b1 = g.Relu(g.Conv(x, 4, 2, kernel: 1));
        var b2 = g.Relu(g.Conv(g.Relu(g.Conv(x, 4, 2, kernel: 1)), 2, 3));
        var b3 = g.Relu(g.Conv(g.Relu(g.Conv(x, 4, 2, kernel: 1)), 2, 2, kernel: 5));
        var pool = g.Op("MaxPool", [x], IntsAttr("kernel_shape", 3, 3), IntsAttr("pads", 1, 1, 1, 1));
        var b4 = g.Relu(g.Conv(pool, 4, 1, kernel: 1));
        var cat = g.Op("Concat", [b1, b2, b3, b4], IntAttr("axis", 1));
        g.Output(g.Op("Flatten", [g.Op("GlobalAveragePool", [cat])]), 1, 8);
        return g.Build();
    }

    /// <summary>A DenseNet dense block: each layer sees the concatenation of all before it.</summary>
    public static ModelProto Dense()
    {
        var g = new TestGraph();
        var features = g.Conv(g.Input("input", 1, 3, 8, 8), 3, 4);
        long channels = 4;
        for (var layer = 0; layer < 3; layer++)
        {
            var y = g.Conv(g.Relu(g.BatchNorm(features, channels)), channels, 2);
            features = g.Op("Concat", [features, y], IntAttr("axis", 1));
            channels += 2;
        }
        g.Output(g.Op("Flatten", [g.Op("GlobalAveragePool", [features])]), 1, channels);
        return g.Build();
    }

    /// <summary>An EfficientNet MBConv block: depthwise conv, squeeze-excite gate, skip connection.</summary>
    public static ModelProto SqueezeExcite()
    {
        var g = new TestGraph();
        var x = g.Conv(g.Input("input", 1, 3, 8, 8), 3, 8, kernel: 1);
        var expand = g.Op("Sigmoid", [g.Conv(x, 8, 16, kernel: 1)]);
        var depthwise = g.Conv(expand, 16, 16, kernel: 3, groups: 16);
        var squeeze = g.Op("GlobalAveragePool", [depthwise]);
        var gate = g.Op("Sigmoid", [g.Conv(g.Relu(g.Conv(squeeze, 16, 4, kernel: 1)), 4, 16, kernel: 1)]);
        var excited = g.Op("Mul", [depthwise, gate]);
        var project = g.Conv(excited, 16, 8, kernel: 1);
        var sum = g.Op("Add", [project, x]);
        g.Output(g.Op("Flatten", [g.Op("GlobalAveragePool", [sum])]), 1, 8);
        return g.Build();
    }

    /// <summary>A ViT encoder layer: patch embedding, LayerNorm, self-attention, MLP, two residuals (opset 17).</summary>
    public static ModelProto Attention()
    {
        var g = new TestGraph(opset: 17);
        const long dim = 8;
        var patches = g.Op("Conv", [g.Input("input", 1, 3, 8, 8), g.Weight(dim, 3, 4, 4), g.Weight(dim)], IntsAttr("strides", 4, 4));
        var tokens = g.Op("Transpose", [g.Op("Reshape", [patches, g.Ints(1, dim, 4)])], IntsAttr("perm", 0, 2, 1));
        var norm = g.Op("LayerNormalization", [tokens, g.Weight(dim), g.Weight(dim)], IntAttr("axis", -1));
        var q = g.Op("MatMul", [norm, g.Weight(dim, dim)]);
        var k = g.Op("MatMul", [norm, g.Weight(dim, dim)]);
        var v = g.Op("MatMul", [norm, g.Weight(dim, dim)]);
        var scores = g.Op("Mul", [g.Op("MatMul", [q, g.Op("Transpose", [k], IntsAttr("perm", 0, 2, 1))]), g.Constant(0.35f)]);
        var attended = g.Op("MatMul", [g.Op("Softmax", [scores], IntAttr("axis", -1)), v]);
        var residual = g.Op("Add", [tokens, g.Op("MatMul", [attended, g.Weight(dim, dim)])]);
        var mlp = g.Op("MatMul", [g.Op("Erf", [g.Op("MatMul", [residual, g.Weight(dim, dim)])]), g.Weight(dim, dim)]);
        var output = g.Op("Add", [residual, mlp]);
        g.Output(g.Op("ReduceMean", [output], IntsAttr("axes", 1), IntAttr("keepdims", 0)), 1, dim);
        return g.Build();
    }

    /// <summary>
    /// A PaddleOCR-style recogniser trunk with symbolic batch, height and width: the output is
    /// reshaped with a shape computed at run time, so int64 shape tensors cross some cuts.
    /// </summary>
    public static ModelProto DynamicHeightWidth()
    {
        var g = new TestGraph();
        var x = g.Relu(g.Conv(g.Input("x", "batch", 3, "height", "width"), 3, 4));
        x = g.Op("MaxPool", [x], IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2));
        x = g.Relu(g.Conv(x, 4, 6));
        var shape = g.Op("Shape", [x]);
        var batch = g.Op("Gather", [shape, g.Ints(0)], IntAttr("axis", 0));
        var target = g.Op("Concat", [batch, g.Ints(6), g.Ints(-1)], IntAttr("axis", 0));
        var sequence = g.Op("Reshape", [x, target]);
        var logits = g.Op("Softmax", [g.Op("Transpose", [sequence], IntsAttr("perm", 0, 2, 1))], IntAttr("axis", -1));
        g.Output(logits, "batch", "steps", 6);
        return g.Build();
    }

    /// <summary>Two inputs and two outputs, one output produced midway (like InceptionV3's aux head).</summary>
    public static ModelProto TwoInputsTwoOutputs()
    {
        var g = new TestGraph();
        var a = g.Relu(g.Conv(g.Input("image", 1, 3, 8, 8), 3, 4));
        var aux = g.Op("Flatten", [g.Op("GlobalAveragePool", [a])]);
        var b = g.Relu(g.Conv(a, 4, 4));
        var pooled = g.Op("Flatten", [g.Op("GlobalAveragePool", [b])]);
        var main = g.Op("Add", [pooled, g.Op("MatMul", [g.Input("extra", 1, 3), g.Weight(3, 4)])]);
        g.Output(main, 1, 4);
        g.Output(aux, 1, 4);
        return g.Build();
    }

    public static IEnumerable<(string Name, ModelProto Model)> All()
    {
        yield return ("chain", Chain());
        yield return ("chain-opset9", Chain(opset: 9));
        yield return ("chain-opset21", Chain(opset: 21));
        yield return ("residual", Residual());
        yield return ("inception", Inception());
        yield return ("dense", Dense());
        yield return ("squeeze-excite", SqueezeExcite());
        yield return ("attention", Attention());
        yield return ("dynamic-hw", DynamicHeightWidth());
        yield return ("two-inputs-two-outputs", TwoInputsTwoOutputs());
    }
}
