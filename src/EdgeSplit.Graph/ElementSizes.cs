using DataType = Onnx.TensorProto.Types.DataType;

namespace EdgeSplit.Graph;

/// <summary>Bytes per element of ONNX tensor types.</summary>
public static class ElementSizes
{
    public static int Of(DataType type) => type switch
    {
        DataType.Double or DataType.Int64 or DataType.Uint64 or DataType.Complex64 => 8,
        DataType.Complex128 => 16,
        DataType.Float16 or DataType.Bfloat16 or DataType.Int16 or DataType.Uint16 => 2,
        DataType.Int8 or DataType.Uint8 or DataType.Bool or DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz
            or DataType.Float8E5M2 or DataType.Float8E5M2Fnuz => 1,
        _ => 4,
    };
}
