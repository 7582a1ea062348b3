using Onnx;
using static EdgeSplit.Graph.Tiling.NodeAttributes;

namespace EdgeSplit.Graph.Tiling;

/// <summary>
/// One rule per operator: how a node maps output positions to input positions, and the shapes
/// it makes, or why it breaks spatial independence (then it ends the tileable prefix).
/// </summary>
internal static class SpatialRules
{
    /// <summary>The first input is the feature map; any other input is a constant parameter (per channel, or a scalar).</summary>
    private static readonly HashSet<string> MapWithParameters = new(StringComparer.Ordinal)
    {
        "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu", "Gelu",
        "Softplus", "Softsign", "Mish", "ThresholdedRelu", "Shrink", "Erf", "Exp", "Log", "Sqrt", "Abs", "Neg",
        "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Not", "Identity", "Cast", "IsNaN", "IsInf",
        "Clip", "Dropout", "LRN", "BatchNormalization", "QuantizeLinear", "DequantizeLinear",
    };

    /// <summary>Elementwise with broadcasting: every input is a feature map of the same size or a spatially constant tensor.</summary>
    private static readonly HashSet<string> Broadcasting = new(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater", "LessOrEqual",
        "GreaterOrEqual", "And", "Or", "Xor", "Mod", "Where", "BitShift", "PRelu",
    };

    private static readonly Dictionary<string, string> Breaking = new(StringComparer.Ordinal)
    {
        ["GlobalAveragePool"] = "pools over the whole image",
        ["GlobalMaxPool"] = "pools over the whole image",
        ["GlobalLpPool"] = "pools over the whole image",
        ["Flatten"] = "flattens the spatial axes",
        ["Reshape"] = "reshapes the spatial axes",
        ["Transpose"] = "moves the spatial axes",
        ["Squeeze"] = "reshapes the spatial axes",
        ["Unsqueeze"] = "reshapes the spatial axes",
        ["SpaceToDepth"] = "rearranges positions into channels",
        ["DepthToSpace"] = "rearranges channels into positions",
        ["Gemm"] = "is a matrix product over every position",
        ["MatMul"] = "is a matrix product across positions",
        ["Attention"] = "attends across positions",
        ["MultiHeadAttention"] = "attends across positions",
        ["Resize"] = "resamples the image (tiling resampling is not supported)",
        ["Upsample"] = "resamples the image (tiling resampling is not supported)",
        ["ConvTranspose"] = "upsamples (transposed convolutions are not tiled)",
        ["Shape"] = "reads the size of the whole tensor",
        ["Size"] = "reads the size of the whole tensor",
        ["InstanceNormalization"] = "normalises with statistics of the whole image",
        ["LayerNormalization"] = "normalises with statistics across positions",
        ["GroupNormalization"] = "normalises with statistics of the whole image",
        ["MeanVarianceNormalization"] = "normalises with statistics across positions",
        ["ReduceMean"] = "reduces across positions",
        ["ReduceMax"] = "reduces across positions",
        ["ReduceMin"] = "reduces across positions",
        ["ReduceSum"] = "reduces across positions",
        ["ReduceProd"] = "reduces across positions",
        ["ReduceL2"] = "reduces across positions",
        ["ArgMax"] = "reduces across positions",
        ["ArgMin"] = "reduces across positions",
    };

    /// <summary>True for operators that work element by element with broadcasting (used to infer constants' shapes).</summary>
    public static bool IsElementwise(string op) => Broadcasting.Contains(op) || (MapWithParameters.Contains(op) && op is not ("BatchNormalization" or "LRN" or "Dropout"));

    public static SpatialNode Describe(NodeProto node, int position, SpatialAnalysis a)
    {
        var op = node.OpType;
        if (!OnnxModel.IsDefaultDomain(node.Domain))
        {
            throw new UntileableNodeException($"is a custom operator of domain '{node.Domain}'");
        }
        if (node.Attribute.Any(attr => Subgraphs.Of(attr).Any()))
        {
            throw new UntileableNodeException("runs subgraphs (control flow)");
        }
        if (Breaking.TryGetValue(op, out var why))
        {
            throw new UntileableNodeException(why);
        }
        for (var k = 1; k < node.Output.Count; k++)
        {
            if (node.Output[k].Length > 0 && a.Model.LastUseOf(node.Output[k]) >= 0)
            {
                throw new UntileableNodeException($"output {k} ('{node.Output[k]}') is used, and only the first output of a {op} is tiled");
            }
        }
        return op switch
        {
            "Conv" => Conv(node, position, a),
            "MaxPool" or "AveragePool" or "LpPool" => Pool(node, position, a),
            "Pad" => Pad(node, position, a),
            "Concat" => Concat(node, position, a),
            "Softmax" or "LogSoftmax" or "Hardmax" => ChannelSoftmax(node, position, a),
            _ when MapWithParameters.Contains(op) => MapWithParameter(node, position, a),
            _ when Broadcasting.Contains(op) => Broadcast(node, position, a),
            _ => throw new UntileableNodeException("is not known to keep image positions independent"),
        };
    }

    private static SpatialNode Conv(NodeProto node, int position, SpatialAnalysis a)
    {
        var x = MapInput(node, a);
        var weight = node.Input.Count > 1 && a.IsStatic(node.Input[1]) ? a.StaticShape(node.Input[1]) : null;
        if (weight is not { Length: 4 })
        {
            throw new UntileableNodeException("has no constant 4-D weight (only 2-D convolutions with fixed weights are tiled)");
        }
        RequireStaticParameters(node, 1, a);
        var kernel = Ints(node, "kernel_shape") ?? [weight[2], weight[3]];
        var (rows, columns) = Windows(node, a.SpatialShape(x)!, kernel, ceilMode: false);
        var shape = new[] { a.SpatialShape(x)![0], weight[0], rows.OutputExtent(a.SpatialShape(x)![2]), columns.OutputExtent(a.SpatialShape(x)![3]) };
        var flops = 2.0 * shape[0] * weight[0] * weight[1] * kernel[0] * kernel[1];
        return new SpatialNode(position, SpatialKind.Conv, rows, columns, [x], Shapes(node, shape), flops);
    }

    private static SpatialNode Pool(NodeProto node, int position, SpatialAnalysis a)
    {
        var x = MapInput(node, a);
        var input = a.SpatialShape(x)!;
        var kernel = Ints(node, "kernel_shape");
        if (kernel is not { Length: 2 })
        {
            throw new UntileableNodeException("is not a 2-D pool");
        }
        var (rows, columns) = Windows(node, input, kernel, ceilMode: Int(node, "ceil_mode", 0) != 0);
        var shape = new[] { input[0], input[1], rows.OutputExtent(input[2]), columns.OutputExtent(input[3]) };
        return new SpatialNode(position, SpatialKind.Pool, rows, columns, [x], Shapes(node, shape), (double)input[0] * input[1] * kernel[0] * kernel[1]);
    }

    private static SpatialNode Pad(NodeProto node, int position, SpatialAnalysis a)
    {
        var x = MapInput(node, a);
        if (Text(node, "mode", "constant") != "constant")
        {
            throw new UntileableNodeException($"pads in '{Text(node, "mode", "constant")}' mode (only constant padding is tiled)");
        }
        if (node.Input.Count > 3 && node.Input[3].Length > 0)
        {
            throw new UntileableNodeException("pads selected axes (only Pad without axes is tiled)");
        }
        RequireStaticParameters(node, 1, a);
        var pads = a.Model.OpsetVersion < 11
            ? Ints(node, a.Model.OpsetVersion < 2 ? "paddings" : "pads")
            : node.Input.Count > 1 && node.Input[1].Length > 0 ? a.StaticInt64s(node.Input[1]) : null;
        if (pads is not { Length: 8 } || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 || pads.Any(p => p < 0))
        {
            throw new UntileableNodeException("pads other than non-negative height and width padding of a 4-D map, or pads not known before running");
        }
        var input = a.SpatialShape(x)!;
        var rows = AxisWindow.Pointwise with { PadBegin = pads[2], PadEnd = pads[6] };
        var columns = AxisWindow.Pointwise with { PadBegin = pads[3], PadEnd = pads[7] };
        var shape = new[] { input[0], input[1], rows.OutputExtent(input[2]), columns.OutputExtent(input[3]) };
        return new SpatialNode(position, SpatialKind.Pad, rows, columns, [x], Shapes(node, shape), 0);
    }

    private static SpatialNode Concat(NodeProto node, int position, SpatialAnalysis a)
    {
        var axis = Int(node, "axis", 1);
        if (axis is not (1 or -3))
        {
            throw new UntileableNodeException($"concatenates along axis {axis} (only channels, axis 1, are tiled)");
        }
        var inputs = node.Input.Where(i => i.Length > 0).ToList();
        if (inputs.Any(i => a.SpatialShape(i) is null))
        {
            throw new UntileableNodeException("concatenates a constant (only feature maps are tiled)");
        }
        var shapes = inputs.Select(i => a.SpatialShape(i)!).ToList();
        if (shapes.Any(s => s[0] != shapes[0][0] || s[2] != shapes[0][2] || s[3] != shapes[0][3]))
        {
            throw new UntileableNodeException("concatenates maps of different sizes");
        }
        var shape = new[] { shapes[0][0], shapes.Sum(s => s[1]), shapes[0][2], shapes[0][3] };
        return Pointwise(node, position, inputs, shape);
    }

    private static SpatialNode ChannelSoftmax(NodeProto node, int position, SpatialAnalysis a)
    {
        // Before opset 13 these flatten every axis from 'axis' on; from 13 they work along one axis.
        var axis = Int(node, "axis", a.Model.OpsetVersion < 13 ? 1 : -1);
        if (a.Model.OpsetVersion < 13 || axis is not (1 or -3))
        {
            throw new UntileableNodeException("normalises across positions");
        }
        var x = MapInput(node, a);
        return Pointwise(node, position, [x], a.SpatialShape(x)!);
    }

    private static SpatialNode MapWithParameter(NodeProto node, int position, SpatialAnalysis a)
    {
        var x = MapInput(node, a);
        RequireStaticParameters(node, 1, a);
        if (node.OpType is "QuantizeLinear" or "DequantizeLinear" && node.Input.Count > 1 && a.StaticShape(node.Input[1]) is { Length: > 0 } scale && scale.Aggregate(1L, (p, d) => p * d) > 1)
        {
            var axis = Int(node, "axis", 1);
            if (axis is not (1 or -3 or 0 or -4))
            {
                throw new UntileableNodeException($"quantizes per position along axis {axis}");
            }
        }
        for (var i = 1; i < node.Input.Count; i++)
        {
            if (node.OpType is not ("BatchNormalization" or "QuantizeLinear" or "DequantizeLinear") && node.Input[i].Length > 0)
            {
                RequireSpatiallyConstant(node.Input[i], a);
            }
        }
        return Pointwise(node, position, [x], a.SpatialShape(x)!);
    }

    private static SpatialNode Broadcast(NodeProto node, int position, SpatialAnalysis a)
    {
        var maps = new List<string>();
        long[]? size = null;
        var shape = new long[] { 1, 1, 1, 1 };
        foreach (var input in node.Input.Where(i => i.Length > 0))
        {
            long[] dims;
            if (a.SpatialShape(input) is { } map)
            {
                if (size is not null && (size[0] != map[2] || size[1] != map[3]))
                {
                    throw new UntileableNodeException("combines maps of different sizes");
                }
                size = [map[2], map[3]];
                maps.Add(input);
                dims = map;
            }
            else
            {
                dims = RequireSpatiallyConstant(input, a);
            }
            for (var d = 0; d < dims.Length; d++)
            {
                var axis = 4 - dims.Length + d;
                shape[axis] = Math.Max(shape[axis], dims[d]);
            }
        }
        if (size is null)
        {
            throw new UntileableNodeException("has no feature-map input");
        }
        shape[2] = size[0];
        shape[3] = size[1];
        return Pointwise(node, position, maps, shape);
    }

    private static SpatialNode Pointwise(NodeProto node, int position, IReadOnlyList<string> maps, long[] shape) =>
        new(position, SpatialKind.Pointwise, AxisWindow.Pointwise, AxisWindow.Pointwise, maps, Shapes(node, shape), 0);

    /// <summary>The first input, which must be a feature map of the prefix.</summary>
    private static string MapInput(NodeProto node, SpatialAnalysis a)
    {
        if (node.Input.Count == 0 || a.SpatialShape(node.Input[0]) is null)
        {
            throw new UntileableNodeException("does not take a feature map as its first input");
        }
        return node.Input[0];
    }

    /// <summary>Inputs from <paramref name="from"/> on are parameters: constants, never computed from the image.</summary>
    private static void RequireStaticParameters(NodeProto node, int from, SpatialAnalysis a)
    {
        for (var i = from; i < node.Input.Count; i++)
        {
            if (node.Input[i].Length > 0 && !a.IsStatic(node.Input[i]))
            {
                throw new UntileableNodeException($"takes '{node.Input[i]}' as a parameter, and it is computed from the image");
            }
        }
    }

    /// <summary>A parameter that broadcasts over height and width: constant, of known shape, 1 along both (or absent).</summary>
    private static long[] RequireSpatiallyConstant(string input, SpatialAnalysis a)
    {
        if (!a.IsStatic(input))
        {
            throw new UntileableNodeException($"takes '{input}' as a parameter, which is computed from the image but is not a feature map");
        }
        var dims = a.StaticShape(input) ?? throw new UntileableNodeException($"takes the constant '{input}', whose shape is not known before running");
        if (dims.Length > 4 || (dims.Length >= 1 && dims[^1] != 1) || (dims.Length >= 2 && dims[^2] != 1))
        {
            throw new UntileableNodeException($"takes the constant '{input}' of shape {string.Join('x', dims)}, which varies over the image");
        }
        return dims;
    }

    private static (AxisWindow Rows, AxisWindow Columns) Windows(NodeProto node, long[] input, long[] kernel, bool ceilMode)
    {
        var strides = Ints(node, "strides") ?? [1, 1];
        var dilations = Ints(node, "dilations") ?? [1, 1];
        var pads = Ints(node, "pads") ?? [0, 0, 0, 0];
        if (kernel.Length != 2 || strides.Length != 2 || dilations.Length != 2 || pads.Length != 4 || input.Length != 4)
        {
            throw new UntileableNodeException("is not 2-D");
        }
        var autoPad = Text(node, "auto_pad", "NOTSET");
        var rows = Window(autoPad, input[2], kernel[0], strides[0], dilations[0], pads[0], pads[2], ceilMode);
        var columns = Window(autoPad, input[3], kernel[1], strides[1], dilations[1], pads[1], pads[3], ceilMode);
        return (rows, columns);
    }

    private static AxisWindow Window(string autoPad, long input, long kernel, long stride, long dilation, long begin, long end, bool ceilMode)
    {
        if (kernel <= 0 || stride <= 0 || dilation <= 0 || begin < 0 || end < 0)
        {
            throw new UntileableNodeException("has a kernel, stride, dilation or padding out of range");
        }
        var window = new AxisWindow(kernel, stride, dilation, begin, end, ceilMode);
        switch (autoPad)
        {
            case "NOTSET" or "":
                return window;
            case "VALID":
                return window with { PadBegin = 0, PadEnd = 0 };
            case "SAME_UPPER" or "SAME_LOWER":
                var output = (input + stride - 1) / stride;
                var total = Math.Max(0, ((output - 1) * stride) + window.Span - input);
                var small = total / 2;
                return autoPad == "SAME_UPPER"
                    ? window with { PadBegin = small, PadEnd = total - small, CeilMode = false }
                    : window with { PadBegin = total - small, PadEnd = small, CeilMode = false };
            default:
                throw new UntileableNodeException($"has auto_pad '{autoPad}'");
        }
    }

    /// <summary>The first output gets <paramref name="shape"/>; other outputs are unused (checked by the caller).</summary>
    private static long[]?[] Shapes(NodeProto node, long[] shape)
    {
        var shapes = new long[]?[node.Output.Count];
        shapes[0] = shape;
        return shapes;
    }
}
