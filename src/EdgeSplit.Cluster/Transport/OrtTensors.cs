using System.Runtime.InteropServices;
using EdgeSplit.Runtime.Codec;

namespace EdgeSplit.Cluster.Transport;

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
