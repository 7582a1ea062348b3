using System.Runtime.InteropServices;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Transport;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Tests.Transport;

public sealed class LargeBlockMemoryPoolTests
{
    [Fact]
    public void Blocks_are_64_KB_reused_and_kept_only_up_to_the_cap()
    {
        using var pool = new LargeBlockMemoryPool();
        var first = pool.Rent();
        Assert.Equal(LargeBlockMemoryPool.BlockSize, first.Memory.Length);
        Assert.True(MemoryMarshal.TryGetArray<byte>(first.Memory, out var firstArray));
        first.Dispose();
        first.Dispose();
        Assert.Equal(1, pool.Retained);
        using (var again = pool.Rent())
        {
            Assert.True(MemoryMarshal.TryGetArray<byte>(again.Memory, out var againArray));
            Assert.Same(firstArray.Array, againArray.Array);
        }

        var many = Enumerable.Range(0, LargeBlockMemoryPool.MaxRetainedBlocks + 50).Select(_ => pool.Rent()).ToList();
        many.ForEach(b => b.Dispose());
        Assert.Equal(LargeBlockMemoryPool.MaxRetainedBlocks, pool.Retained);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(LargeBlockMemoryPool.BlockSize + 1));
    }

    [Fact]
    public async Task Kestrel_reads_a_multi_megabyte_request_into_the_large_blocks()
    {
        var cache = Directory.CreateTempSubdirectory("edgesplit-agent-").FullName;
        try
        {
            await using var host = await AgentHost.StartAsync(new AgentOptions("pool") { CacheDirectory = cache });
            var factory = Assert.IsType<LargeBlockMemoryPoolFactory>(host.Services.GetRequiredService<IMemoryPoolFactory<byte>>());
            var (channel, invoker) = GrpcChannels.Open(host.Address, token: null);
            using var _ = channel;
            var agent = new Proto.Agent.AgentClient(invoker);
            await agent.PingAsync(new Proto.PingRequest());
            var before = factory.Created.Sum(p => p.Rented);

            // 3.2 MB for a hop nobody deployed: refused, but only after Kestrel has read all of it.
            var request = new Proto.ExecuteRequest { RequestId = "big", Version = 7, Hop = 0, ReplyTo = "127.0.0.1:1" };
            request.Tensors.Add(new Proto.Tensor { Name = "x", ElementType = 1, Shape = { 800 * 1024 }, Data = ByteString.CopyFrom(new byte[3_276_800]) });
            var refused = await Assert.ThrowsAsync<RpcException>(async () => await agent.ExecuteAsync(request));
            Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);

            // At least one pass over the socket's 64 KB blocks (50 of them); with Kestrel's own 4 KB pool this stays 0.
            Assert.True(factory.Created.Sum(p => p.Rented) - before >= 3_276_800 / LargeBlockMemoryPool.BlockSize,
                $"rented {factory.Created.Sum(p => p.Rented) - before} large blocks for a 3.2 MB request");
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }
}
