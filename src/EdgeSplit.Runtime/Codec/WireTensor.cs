using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeSplit.Runtime.Codec;

/// <summary>
/// A named tensor as it travels: element type (ONNX numbering, same as ORT's), shape, and raw
/// little-endian bytes, possibly compressed (<see cref="FeatureMapCodec"/>). <see cref="Data"/>
/// may be a view of someone else's buffer; it is valid as long as that buffer is.
/// </summary>
public sealed record WireTensor(
    string Name,
    TensorElementType ElementType,
    long[] Shape,
    ReadOnlyMemory<byte> Data,
    FeatureMapCompression Compression = FeatureMapCompression.None,
    float Scale = 0,
    float ZeroPoint = 0)
{
    /// <summary>Number of elements the shape describes.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, d) => checked(a * d));

    /// <summary>Bytes per element of the decoded tensor, or 0 for types that cannot travel raw (strings).</summary>
    public static int ElementSize(TensorElementType type) => type switch
    {
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.Double or TensorElementType.Int64 or TensorElementType.UInt64 => 8,
        TensorElementType.Float16 or TensorElementType.BFloat16 or TensorElementType.Int16 or TensorElementType.UInt16 => 2,
        TensorElementType.Int8 or TensorElementType.UInt8 or TensorElementType.Bool => 1,
        _ => 0,
    };

    /// <summary>The byte count <see cref="Data"/> must have for this shape, type and compression.</summary>
    public long ExpectedByteCount => Compression == FeatureMapCompression.None
        ? checked(ElementCount * ElementSize(ElementType))
        : FeatureMapCodec.EncodedLength(checked((int)ElementCount), Compression);

    /// <summary>A float32 tensor holding a copy of <paramref name="values"/>.</summary>
    public static WireTensor FromFloats(string name, long[] shape, float[] values)
    {
        var bytes = BitConverter.IsLittleEndian ? MemoryMarshal.AsBytes(values.AsSpan()).ToArray() : Encode(values);
        return new WireTensor(name, TensorElementType.Float, shape, bytes);

        static byte[] Encode(float[] v)
        {
            var b = new byte[v.Length * 4];
            FeatureMapCodec.Encode(v, FeatureMapCompression.None, b);
            return b;
        }
    }

    /// <summary>The decoded float32 values (decompressing if needed).</summary>
    public float[] ToFloats()
    {
        if (ElementType != TensorElementType.Float)
        {
            throw new InvalidOperationException($"tensor '{Name}' is {ElementType}, not Float");
        }
        var values = new float[ElementCount];
        FeatureMapCodec.Decode(Data.Span, Compression, Scale, ZeroPoint, values);
        return values;
    }

    /// <summary>This float tensor compressed with <paramref name="compression"/> (itself if none or not float).</summary>
    public WireTensor Compress(FeatureMapCompression compression)
    {
        if (compression == FeatureMapCompression.None || Compression != FeatureMapCompression.None || ElementType != TensorElementType.Float)
        {
            return this;
        }
        var count = checked((int)ElementCount);
        var encoded = new byte[FeatureMapCodec.EncodedLength(count, compression)];
        var floats = MemoryMarshal.Cast<byte, float>(Data.Span);
        var (scale, zeroPoint) = FeatureMapCodec.Encode(floats, compression, encoded);
        return this with { Data = encoded, Compression = compression, Scale = scale, ZeroPoint = zeroPoint };
    }

    /// <summary>This tensor with compression undone (itself if not compressed).</summary>
    public WireTensor Decompress()
    {
        if (Compression == FeatureMapCompression.None)
        {
            return this;
        }
        var values = ToFloats();
        return new WireTensor(Name, TensorElementType.Float, Shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }
}
