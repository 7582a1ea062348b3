using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace EdgeSplit.Graph;

/// <summary>
/// Element types of every tensor, without running the model: declared ones first (inputs,
/// outputs, value_info, initializers, constants), then one rule per operator for the rest.
/// A partition's boundary tensors need a type in its ONNX signature; shapes may stay open.
/// </summary>
internal static class ElementTypeInference
{
    private static readonly HashSet<string> BoolOutputs = new(StringComparer.Ordinal)
    {
        "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf",
    };

    private static readonly HashSet<string> Int64Outputs = new(StringComparer.Ordinal)
    {
        "Shape", "Size", "NonZero", "ArgMax", "ArgMin", "NonMaxSuppression",
    };

    public static Dictionary<string, DataType> Infer(OnnxModel model)
    {
        var types = new Dictionary<string, DataType>(StringComparer.Ordinal);
        var graph = model.Proto.Graph;
        foreach (var info in graph.Input.Concat(graph.Output).Concat(graph.ValueInfo))
        {
            if (info.Type?.TensorType is { ElemType: > 0 } t)
            {
                types[info.Name] = (DataType)t.ElemType;
            }
        }
        foreach (var (name, tensor) in model.Initializers)
        {
            types[name] = (DataType)tensor.DataType;
        }
        foreach (var (name, node) in model.ConstantNodes)
        {
            if (ConstantType(node) is { } type)
            {
                types[name] = type;
            }
        }
        foreach (var node in model.Nodes)
        {
            if (!OnnxModel.IsDefaultDomain(node.Domain) && node.Domain != "com.microsoft")
            {
                continue;
            }
            for (var k = 0; k < node.Output.Count; k++)
            {
                var output = node.Output[k];
                if (output.Length == 0 || types.ContainsKey(output))
                {
                    continue;
                }
                if (OutputType(node, k, types) is { } type)
                {
                    types[output] = type;
                }
            }
        }
        return types;
    }

    public static bool IsFloatingPoint(DataType type) =>
        type is DataType.Float or DataType.Float16 or DataType.Bfloat16 or DataType.Double;

    private static DataType? OutputType(NodeProto node, int k, Dictionary<string, DataType> types)
    {
        DataType? InputType(int i) => i < node.Input.Count && types.TryGetValue(node.Input[i], out var t) ? t : null;
        long? IntAttr(string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I;

        var op = node.OpType;
        if (BoolOutputs.Contains(op))
        {
            return DataType.Bool;
        }
        if (Int64Outputs.Contains(op))
        {
            return DataType.Int64;
        }
        switch (op)
        {
            case "Cast":
                return IntAttr("to") is { } to ? (DataType)to : null;
            case "CastLike":
                return InputType(1);
            case "TopK":
            case "MaxPool" when k == 1:
                return k == 1 ? DataType.Int64 : InputType(0);
            case "Unique":
                return k == 0 ? InputType(0) : DataType.Int64;
            case "Dropout" when k == 1:
                return DataType.Bool;
            case "ConstantOfShape":
                var value = node.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
                return value is null ? DataType.Float : (DataType)value.DataType;
            case "EyeLike":
            case "RandomNormalLike":
            case "RandomUniformLike":
                return IntAttr("dtype") is { } likeType ? (DataType)likeType : InputType(0);
            case "RandomNormal":
            case "RandomUniform":
                return IntAttr("dtype") is { } randomType ? (DataType)randomType : DataType.Float;
            case "Multinomial":
                return IntAttr("dtype") is { } multinomialType ? (DataType)multinomialType : DataType.Int32;
            case "QuantizeLinear":
                return InputType(2) ?? DataType.Uint8;
            case "DequantizeLinear":
                return InputType(1) ?? DataType.Float;
            case "DynamicQuantizeLinear":
                return k == 1 ? DataType.Float : DataType.Uint8;
            case "MatMulInteger":
            case "ConvInteger":
                return DataType.Int32;
            case "QLinearConv":
                return InputType(7) ?? InputType(0);
            case "QLinearMatMul":
                return InputType(7) ?? InputType(0);
            case "Where":
                return InputType(1) ?? InputType(2);
            case "If":
            case "Loop":
            case "Scan":
                return null;
        }
        // Most operators keep the type of their first typed input (data, not indices).
        for (var i = 0; i < node.Input.Count; i++)
        {
            if (InputType(i) is { } t)
            {
                return t;
            }
        }
        return null;
    }

    private static DataType? ConstantType(NodeProto node)
    {
        foreach (var attr in node.Attribute)
        {
            switch (attr.Name)
            {
                case "value":
                    return attr.T is null ? null : (DataType)attr.T.DataType;
                case "value_float":
                case "value_floats":
                    return DataType.Float;
                case "value_int":
                case "value_ints":
                    return DataType.Int64;
                case "value_string":
                case "value_strings":
                    return DataType.String;
            }
        }
        return null;
    }
}
