using System.Runtime.InteropServices;
using EdgeSplit.Runtime.Codec;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.ML.OnnxRuntime.Tensors;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Transport;

/// <summary>Maps generated tensor messages to <see cref="WireTensor"/> and back without copying bytes.</summary>
public static class TensorMapping
{
    /// <summary>Largest rank accepted from the wire.</summary>
    public const int MaxRank = 8;

    /// <summary>
    /// A view of <paramref name="tensor"/>'s bytes (valid while the message is); throws
    /// InvalidArgument when the shape, type or byte count do not agree.
    /// </summary>
    public static WireTensor FromProto(Proto.Tensor tensor)
    {
        if (string.IsNullOrEmpty(tensor.Name))
        {
            throw Invalid("a tensor has no name");
        }
        if (tensor.Shape.Count > MaxRank || tensor.Shape.Any(d => d < 0 || d > int.MaxValue))
        {
            throw Invalid($"tensor '{tensor.Name}' has an invalid shape [{string.Join(',', tensor.Shape)}]");
        }
        var type = (TensorElementType)tensor.ElementType;
        if (!Enum.IsDefined(type) || WireTensor.ElementSize(type) == 0)
        {
            throw Invalid($"tensor '{tensor.Name}' has unsupported element type {tensor.ElementType}");
        }
        var compression = (FeatureMapCompression)(int)tensor.Compression;
        if (!Enum.IsDefined(compression) || (compression != FeatureMapCompression.None && type != TensorElementType.Float))
        {
            throw Invalid($"tensor '{tensor.Name}' has compression {tensor.Compression} on a {type} tensor");
        }
        var wire = new WireTensor(tensor.Name, type, [.. tensor.Shape], tensor.Data.Memory, compression, tensor.Scale, tensor.ZeroPoint);
        long expected;
        try
        {
            expected = wire.ExpectedByteCount;
        }
        catch (OverflowException)
        {
            throw Invalid($"tensor '{tensor.Name}' shape [{string.Join(',', tensor.Shape)}] is too large");
        }
        if (expected != tensor.Data.Length)
        {
            throw Invalid($"tensor '{tensor.Name}' of shape [{string.Join(',', tensor.Shape)}] {type} ({FeatureMapCodec.Name(compression)}) needs {expected} bytes, got {tensor.Data.Length}");
        }
        return wire;
    }

    /// <summary>The message for <paramref name="tensor"/>, wrapping its bytes (keep them alive until sent).</summary>
    public static Proto.Tensor ToProto(WireTensor tensor)
    {
        var message = new Proto.Tensor
        {
            Name = tensor.Name,
            ElementType = (int)tensor.ElementType,
            Data = UnsafeByteOperations.UnsafeWrap(tensor.Data),
            Compression = (Proto.Compression)(int)tensor.Compression,
            Scale = tensor.Scale,
            ZeroPoint = tensor.ZeroPoint,
        };
        message.Shape.Add(tensor.Shape);
        return message;
    }

    public static FeatureMapCompression FromProto(Proto.Compression compression) => (FeatureMapCompression)(int)compression;

    public static Proto.Compression ToProto(FeatureMapCompression compression) => (Proto.Compression)(int)compression;

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}

/// <summary>Bridges <see cref="WireTensor"/> and ORT values over pinned or native memory.</summary>
internal static class OrtTensors
{
    /// <summary>
    /// An OrtValue over <paramref name="tensor"/>'s bytes (pinned, not copied; decompressed into a
    /// fresh buffer if compressed). Dispose the returned scope after the session ran.
    /// </summary>
    public static InputScope ToOrtValue(WireTensor tensor)
    {
        var decoded = tensor.Decompress();
        var memory = MemoryMarshal.AsMemory(decoded.Data);
        var pin = memory.Pin();
        try
        {
            unsafe
            {
                var value = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueWithData(
                    Microsoft.ML.OnnxRuntime.OrtMemoryInfo.DefaultInstance, decoded.ElementType, decoded.Shape, (IntPtr)pin.Pointer, memory.Length);
                return new InputScope(value, pin);
            }
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A wire view of an ORT output's native memory (no copy): valid until the OrtValue is disposed.
    /// </summary>
    public static WireTensor View(string name, Microsoft.ML.OnnxRuntime.OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var span = value.GetTensorMutableRawData();
        Memory<byte> memory;
        unsafe
        {
            fixed (byte* pointer = span)
            {
                // ORT allocated this buffer natively; it does not move, so the address outlives 'fixed'.
                memory = span.Length == 0 ? Memory<byte>.Empty : new NativeMemoryManager((IntPtr)pointer, span.Length).Memory;
            }
        }
        return new WireTensor(name, info.ElementDataType, info.Shape, memory);
    }

    /// <summary>A managed copy of an ORT output (for results that outlive the OrtValue).</summary>
    public static WireTensor Copy(string name, Microsoft.ML.OnnxRuntime.OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        return new WireTensor(name, info.ElementDataType, info.Shape, value.GetTensorMutableRawData().ToArray());
    }

    /// <summary>An OrtValue plus the pin that keeps its managed bytes in place.</summary>
    internal readonly struct InputScope(Microsoft.ML.OnnxRuntime.OrtValue value, System.Buffers.MemoryHandle pin) : IDisposable
    {
        public Microsoft.ML.OnnxRuntime.OrtValue Value { get; } = value;

        public void Dispose()
        {
            Value.Dispose();
            pin.Dispose();
        }
    }
}
