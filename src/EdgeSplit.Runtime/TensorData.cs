using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeSplit.Runtime;

/// <summary>
/// A named tensor as raw little-endian bytes: what crosses a cut, whatever device or process
/// holds it. Converting to and from <see cref="OrtValue"/> copies once.
/// </summary>
public sealed record TensorData(string Name, TensorElementType ElementType, long[] Shape, ReadOnlyMemory<byte> Data)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    public long ByteCount => Data.Length;

    public string ShapeText => string.Join('x', Shape);

    /// <summary>Copies an ORT tensor out of native memory.</summary>
    public static TensorData FromOrtValue(string name, OrtValue value)
    {
        if (!value.IsTensor)
        {
            throw new NotSupportedException($"'{name}' is not a tensor (sequences and maps cannot cross a cut)");
        }
        var info = value.GetTensorTypeAndShape();
        return new TensorData(name, info.ElementDataType, info.Shape, value.GetTensorDataAsSpan<byte>().ToArray());
    }

    /// <summary>Allocates an ORT tensor and copies the bytes in; the caller disposes it.</summary>
    public OrtValue ToOrtValue()
    {
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, ElementType, Shape);
        Data.Span.CopyTo(value.GetTensorMutableRawData());
        return value;
    }

    /// <summary>The values widened to double, for comparisons; integers and bools compare exactly.</summary>
    public double[] ToDoubles()
    {
        var span = Data.Span;
        return ElementType switch
        {
            TensorElementType.Float => [.. MemoryMarshal.Cast<byte, float>(span).ToArray().Select(v => (double)v)],
            TensorElementType.Double => MemoryMarshal.Cast<byte, double>(span).ToArray(),
            TensorElementType.Float16 => [.. MemoryMarshal.Cast<byte, Half>(span).ToArray().Select(v => (double)v)],
            TensorElementType.Int64 => [.. MemoryMarshal.Cast<byte, long>(span).ToArray().Select(v => (double)v)],
            TensorElementType.Int32 => [.. MemoryMarshal.Cast<byte, int>(span).ToArray().Select(v => (double)v)],
            TensorElementType.Int16 => [.. MemoryMarshal.Cast<byte, short>(span).ToArray().Select(v => (double)v)],
            TensorElementType.UInt16 => [.. MemoryMarshal.Cast<byte, ushort>(span).ToArray().Select(v => (double)v)],
            TensorElementType.Int8 => [.. MemoryMarshal.Cast<byte, sbyte>(span).ToArray().Select(v => (double)v)],
            TensorElementType.UInt8 or TensorElementType.Bool => [.. span.ToArray().Select(v => (double)v)],
            _ => throw new NotSupportedException($"comparing tensors of type {ElementType} is not supported"),
        };
    }

    /// <summary>Element size in bytes of the types EdgeSplit moves between devices.</summary>
    public static int ElementSize(TensorElementType type) => type switch
    {
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.Double or TensorElementType.Int64 or TensorElementType.UInt64 => 8,
        TensorElementType.Float16 or TensorElementType.BFloat16 or TensorElementType.Int16 or TensorElementType.UInt16 => 2,
        TensorElementType.Int8 or TensorElementType.UInt8 or TensorElementType.Bool => 1,
        _ => throw new NotSupportedException($"tensors of type {type} cannot cross a cut"),
    };
}
