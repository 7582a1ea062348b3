using System.Buffers;

namespace EdgeSplit.Cluster.Transport;

/// <summary>
/// A <see cref="Memory{T}"/> view of native memory (an ORT output tensor), so its bytes go to the
/// gRPC serializer without a managed copy. The owner of the native memory keeps it alive.
/// </summary>
internal sealed unsafe class NativeMemoryManager(IntPtr pointer, int length) : MemoryManager<byte>
{
    public override Span<byte> GetSpan() => new((void*)pointer, length);

    public override MemoryHandle Pin(int elementIndex = 0) => new((byte*)pointer + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
