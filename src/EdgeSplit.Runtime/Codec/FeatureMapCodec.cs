using System.Buffers.Binary;
using System.Numerics.Tensors;
using EdgeSplit.Graph;

namespace EdgeSplit.Runtime.Codec;

/// <summary>How float feature maps travel between devices: exact, half precision, or 8-bit affine.</summary>
public enum FeatureMapCompression
{
    None = 0,
    Fp16 = 1,
    Int8 = 2,
}

/// <summary>The error one compression round trip causes on one tensor, and what it saves.</summary>
public sealed record CompressionError(
    FeatureMapCompression Compression,
    int ElementCount,
    double MaxAbsError,
    double RmsError,
    long OriginalBytes,
    long EncodedBytes)
{
    public double Ratio => EncodedBytes == 0 ? 1 : (double)OriginalBytes / EncodedBytes;
}

/// <summary>
/// Lossy codecs for float32 feature maps on the wire. fp16 keeps ~3 decimal digits; int8 maps the
/// tensor's finite [min, max] range onto 256 levels (per-tensor affine: value = scale * (q - zeroPoint)).
/// Encoded bytes are little-endian. Non-finite inputs are clamped by int8 and kept by fp16.
/// </summary>
public static class FeatureMapCodec
{
    /// <summary>Parses <c>none|fp16|int8</c> (case-insensitive); throws <see cref="BadInputException"/> otherwise.</summary>
    public static FeatureMapCompression Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "none" => FeatureMapCompression.None,
        "fp16" => FeatureMapCompression.Fp16,
        "int8" => FeatureMapCompression.Int8,
        _ => throw new BadInputException($"unknown compression '{text}'; use none, fp16 or int8"),
    };

    /// <summary>The wire name of a compression, as <see cref="Parse"/> reads it.</summary>
    public static string Name(FeatureMapCompression compression) => compression.ToString().ToLowerInvariant();

    /// <summary>Bytes needed to encode <paramref name="elementCount"/> floats.</summary>
    public static int EncodedLength(int elementCount, FeatureMapCompression compression) => compression switch
    {
        FeatureMapCompression.None => checked(elementCount * sizeof(float)),
        FeatureMapCompression.Fp16 => checked(elementCount * 2),
        FeatureMapCompression.Int8 => elementCount,
        _ => throw new ArgumentOutOfRangeException(nameof(compression)),
    };

    /// <summary>
    /// Encodes <paramref name="values"/> into <paramref name="destination"/> (at least
    /// <see cref="EncodedLength"/> bytes) and returns the affine parameters (zero for fp16 and none).
    /// </summary>
    public static (float Scale, float ZeroPoint) Encode(ReadOnlySpan<float> values, FeatureMapCompression compression, Span<byte> destination)
    {
        var length = EncodedLength(values.Length, compression);
        if (destination.Length < length)
        {
            throw new ArgumentException($"destination holds {destination.Length} bytes, {length} needed", nameof(destination));
        }
        switch (compression)
        {
            case FeatureMapCompression.None:
                WriteFloats(values, destination);
                return (0, 0);
            case FeatureMapCompression.Fp16:
                EncodeFp16(values, destination);
                return (0, 0);
            case FeatureMapCompression.Int8:
                return EncodeInt8(values, destination);
            default:
                throw new ArgumentOutOfRangeException(nameof(compression));
        }
    }

    /// <summary>Decodes what <see cref="Encode"/> wrote into <paramref name="destination"/> (one float per element).</summary>
    public static void Decode(ReadOnlySpan<byte> encoded, FeatureMapCompression compression, float scale, float zeroPoint, Span<float> destination)
    {
        var length = EncodedLength(destination.Length, compression);
        if (encoded.Length != length)
        {
            throw new ArgumentException($"{destination.Length} elements need {length} encoded bytes ({Name(compression)}), got {encoded.Length}", nameof(encoded));
        }
        switch (compression)
        {
            case FeatureMapCompression.None:
                ReadFloats(encoded, destination);
                break;
            case FeatureMapCompression.Fp16:
                DecodeFp16(encoded, destination);
                break;
            case FeatureMapCompression.Int8:
                for (var i = 0; i < destination.Length; i++)
                {
                    destination[i] = scale * ((sbyte)encoded[i] - zeroPoint);
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(compression));
        }
    }

    /// <summary>What the receiver sees after <paramref name="values"/> crossed the wire compressed.</summary>
    public static float[] RoundTrip(ReadOnlySpan<float> values, FeatureMapCompression compression)
    {
        var encoded = new byte[EncodedLength(values.Length, compression)];
        var (scale, zeroPoint) = Encode(values, compression, encoded);
        var decoded = new float[values.Length];
        Decode(encoded, compression, scale, zeroPoint, decoded);
        return decoded;
    }

    /// <summary>
    /// <paramref name="tensor"/> as the next device sees it after crossing the wire compressed: float
    /// tensors round-trip through the codec, other types travel exact and come back unchanged.
    /// This is what <c>verify --compress</c> applies to every tensor crossing a cut.
    /// </summary>
    public static TensorData RoundTrip(TensorData tensor, FeatureMapCompression compression)
    {
        if (compression == FeatureMapCompression.None || tensor.ElementType != Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float)
        {
            return tensor;
        }
        var decoded = RoundTrip(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(tensor.Data.Span), compression);
        return tensor with { Data = System.Runtime.InteropServices.MemoryMarshal.AsBytes(decoded.AsSpan()).ToArray() };
    }

    /// <summary>The error a round trip causes on <paramref name="values"/> (what <c>verify --compress</c> reports).</summary>
    public static CompressionError MeasureError(ReadOnlySpan<float> values, FeatureMapCompression compression)
    {
        var decoded = RoundTrip(values, compression);
        double maxAbs = 0, sumSquares = 0;
        for (var i = 0; i < values.Length; i++)
        {
            var diff = Math.Abs((double)values[i] - decoded[i]);
            if (double.IsNaN(diff))
            {
                continue;
            }
            maxAbs = Math.Max(maxAbs, diff);
            sumSquares += diff * diff;
        }
        var rms = values.Length == 0 ? 0 : Math.Sqrt(sumSquares / values.Length);
        return new CompressionError(compression, values.Length, maxAbs, rms, (long)values.Length * sizeof(float), EncodedLength(values.Length, compression));
    }

    private static void WriteFloats(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).CopyTo(destination);
            return;
        }
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[(i * 4)..], values[i]);
        }
    }

    private static void ReadFloats(ReadOnlySpan<byte> encoded, Span<float> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            encoded.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(destination));
            return;
        }
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = BinaryPrimitives.ReadSingleLittleEndian(encoded[(i * 4)..]);
        }
    }

    private static void EncodeFp16(ReadOnlySpan<float> values, Span<byte> destination)
    {
        var halves = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(destination[..(values.Length * 2)]);
        TensorPrimitives.ConvertToHalf(values, halves);
        if (!BitConverter.IsLittleEndian)
        {
            var shorts = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(destination[..(values.Length * 2)]);
            BinaryPrimitives.ReverseEndianness(shorts, shorts);
        }
    }

    private static void DecodeFp16(ReadOnlySpan<byte> encoded, Span<float> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            TensorPrimitives.ConvertToSingle(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(encoded), destination);
            return;
        }
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(encoded[(i * 2)..]));
        }
    }

    private static (float Scale, float ZeroPoint) EncodeInt8(ReadOnlySpan<float> values, Span<byte> destination)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (var v in values)
        {
            if (float.IsFinite(v))
            {
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
        }
        if (!float.IsFinite(min))
        {
            min = max = 0;
        }
        // A constant tensor still needs a non-zero scale; any will do since every q is the same.
        var scale = max > min ? (max - min) / 255f : 1f;
        var zeroPoint = -128f - (min / scale);
        var inverse = 1f / scale;
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            var level = float.IsNaN(v) ? 0f : MathF.Round((Math.Clamp(v, min, max) - min) * inverse);
            destination[i] = (byte)(sbyte)(Math.Clamp(level, 0f, 255f) - 128f);
        }
        return (scale, zeroPoint);
    }
}
