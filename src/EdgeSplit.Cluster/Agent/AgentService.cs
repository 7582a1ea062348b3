using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Cluster.Transport;
using Grpc.Core;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Agent;

/// <summary>The agent's gRPC surface: maps messages to <see cref="AgentCore"/> calls at the edge (failures map to statuses in <see cref="StatusInterceptor"/>).</summary>
internal sealed class AgentService(AgentCore core) : Proto.Agent.AgentBase
{
    public override Task<Proto.HasPartitionReply> HasPartition(Proto.PartitionRef request, ServerCallContext context) =>
        Task.FromResult(new Proto.HasPartitionReply { Cached = core.Store.Has(request.Sha256.ToLowerInvariant()) });

    public override async Task<Proto.LoadPartitionReply> LoadPartition(IAsyncStreamReader<Proto.PartitionChunk> requestStream, ServerCallContext context)
    {
        var chunks = requestStream.ReadAllAsync(context.CancellationToken).Select(c => new PartitionChunk(c.Sha256.Length > 0 ? c.Sha256 : null, c.TotalBytes, c.Data.Memory));
        var bytes = await core.Store.ReceiveAsync(chunks, core.Options.MaxPartitionBytes, context.CancellationToken);
        return new Proto.LoadPartitionReply { Bytes = bytes };
    }

    public override async Task<Proto.DeployReply> Deploy(Proto.DeployRequest request, ServerCallContext context)
    {
        var elapsed = await core.DeployAsync(WireMapping.FromProto(request));
        return new Proto.DeployReply { WarmMs = elapsed.TotalMilliseconds };
    }

    public override async Task<Proto.RetireReply> Retire(Proto.RetireRequest request, ServerCallContext context)
    {
        await core.RetireAsync(request.Version);
        return new Proto.RetireReply();
    }

    public override async Task<Proto.ExecuteReply> Execute(Proto.ExecuteRequest request, ServerCallContext context)
    {
        // The whole message has arrived when the handler runs: the transfer took from the sender's stamp until now.
        var transferMs = request.SentUnixMs > 0 ? Math.Max(0, AgentConnection.UnixMs(core.Time) - request.SentUnixMs) : 0;
        var work = new StageWork(WireMapping.FromProto(request), request.CalculateSize(), transferMs);
        var waitStarted = core.Time.GetTimestamp();
        await core.ExecuteAsync(work, context.CancellationToken);
        return new Proto.ExecuteReply { WaitMs = core.Time.GetElapsedTime(waitStarted).TotalMilliseconds };
    }

    public override Task<Proto.PingReply> Ping(Proto.PingRequest request, ServerCallContext context) =>
        Task.FromResult(new Proto.PingReply { Name = core.Name, MemoryAvailableBytes = core.Monitor.Latest.UsableMemoryBytes, Queued = core.Queued });

    public override async Task Metrics(Proto.MetricsRequest request, IServerStreamWriter<Proto.DeviceMetrics> responseStream, ServerCallContext context)
    {
        var interval = TimeSpan.FromMilliseconds(Math.Clamp(request.IntervalMs <= 0 ? 1000 : request.IntervalMs, 1, 60_000));
        var ct = context.CancellationToken;
        try
        {
            await foreach (var sample in new DeviceMetricsStream(core).RunAsync(interval, [.. request.Peers], [.. request.PeerNames], ct))
            {
                await responseStream.WriteAsync(WireMapping.ToProto(sample), ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The subscriber left.
        }
    }

    /// <summary>The key an emulation file knows a peer by: its device name when listed so, else its address.</summary>
    internal static string EmulatedPeer(EmulatedLinks emulation, string address, string? device) =>
        device is not null && emulation.Find(device) is not null ? device : address;
}
