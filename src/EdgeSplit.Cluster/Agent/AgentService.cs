using System.Diagnostics;
using EdgeSplit.Cluster.Transport;
using Grpc.Core;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Agent;

/// <summary>The agent's gRPC surface: maps messages to <see cref="AgentCore"/> calls at the edge.</summary>
internal sealed class AgentService(AgentCore core) : Proto.Agent.AgentBase
{
    public override Task<Proto.HasPartitionReply> HasPartition(Proto.PartitionRef request, ServerCallContext context) =>
        Task.FromResult(new Proto.HasPartitionReply { Cached = core.Store.Has(request.Sha256.ToLowerInvariant()) });

    public override async Task<Proto.LoadPartitionReply> LoadPartition(IAsyncStreamReader<Proto.PartitionChunk> requestStream, ServerCallContext context)
    {
        var bytes = await core.Store.ReceiveAsync(requestStream, core.Options.MaxPartitionBytes, context.CancellationToken);
        return new Proto.LoadPartitionReply { Bytes = bytes };
    }

    public override async Task<Proto.DeployReply> Deploy(Proto.DeployRequest request, ServerCallContext context)
    {
        var hops = request.Hops.Select(h => new HopSpec(
            request.Version,
            h.Hop,
            string.IsNullOrEmpty(h.PartitionSha256) ? null : h.PartitionSha256.ToLowerInvariant(),
            [.. h.Inputs],
            [.. h.Forwards],
            string.IsNullOrEmpty(h.NextAddress) ? null : h.NextAddress,
            string.IsNullOrEmpty(h.NextDevice) ? null : h.NextDevice,
            TensorMapping.FromProto(h.Compression))).ToList();
        var elapsed = await core.DeployAsync(request.Version, hops);
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
        var transferMs = request.SentUnixMs > 0 ? Math.Max(0, NowUnixMs() - request.SentUnixMs) : 0;
        var tensors = request.Tensors.Select(TensorMapping.FromProto).ToList();
        var deadline = request.DeadlineUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(request.DeadlineUnixMs) : DateTimeOffset.MaxValue;
        var work = new StageWork(request.RequestId, request.Attempt, request.ReplyTo, deadline, tensors, Stopwatch.GetTimestamp())
        {
            Timings = [.. request.Timings],
            BytesIn = request.CalculateSize(),
            TransferInMs = transferMs,
            FromDevice = string.IsNullOrEmpty(request.FromDevice) ? null : request.FromDevice,
        };
        var waitStarted = Stopwatch.GetTimestamp();
        await core.ExecuteAsync(request.Version, request.Hop, work, context.CancellationToken);
        return new Proto.ExecuteReply { WaitMs = Stopwatch.GetElapsedTime(waitStarted).TotalMilliseconds };
    }

    public override Task<Proto.PingReply> Ping(Proto.PingRequest request, ServerCallContext context) =>
        Task.FromResult(new Proto.PingReply { Name = core.Name, MemoryAvailableBytes = core.Monitor.Latest.UsableMemoryBytes, Queued = core.Queued });

    public override async Task Metrics(Proto.MetricsRequest request, IServerStreamWriter<Proto.DeviceMetrics> responseStream, ServerCallContext context)
    {
        var interval = TimeSpan.FromMilliseconds(Math.Clamp(request.IntervalMs <= 0 ? 1000 : request.IntervalMs, 50, 60_000));
        // Its own monitor, so utilisations are over this stream's interval.
        await using var monitor = new Monitoring.ResourceMonitor(core.Options.Monitoring);
        var deviceCores = core.Options.Monitoring.EmulatedCpuCores ?? Environment.ProcessorCount;
        var ct = context.CancellationToken;
        while (!ct.IsCancellationRequested)
        {
            var peers = request.Peers.Take(16).ToList();
            // Peers are measured side by side, so one slow (emulated) link does not stall the stream.
            await Task.WhenAll(peers.Select((peer, i) => MeasureLinkAsync(peer, i < request.PeerNames.Count ? request.PeerNames[i] : null, ct)));
            var links = peers.Select(peer => core.Links.For(peer).Current)
                .Select(e => new LinkSample(e.Peer, e.RttMs ?? double.NaN, e.BytesPerSecond ?? 0)).ToList();
            var sample = DeviceSample.From(core.Name, monitor.Sample(), deviceCores, links, core.Queued, core.Executed);
            // Emulated devices: the share of the device other jobs take, as the testbed emulates it.
            if ((core.CpuUtilisationOverride ?? core.Options.Emulation?.Current.CpuLoad) is { } busy)
            {
                // Emulated load: the whole device is this busy, none of it by EdgeSplit.
                sample = sample with { CpuUtilisation = busy, CpuPerCore = [.. sample.CpuPerCore.Select(_ => busy)], ProcessCpuUtilisation = 0 };
            }
            await responseStream.WriteAsync(ToProto(sample), ct);
            try
            {
                await Task.Delay(interval, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Pings a peer for its RTT and, when the link has been idle, sends a short probe for its bandwidth.</summary>
    private async Task MeasureLinkAsync(string peer, string? peerName, CancellationToken ct)
    {
        var estimator = core.Links.For(peer);
        if (await TimePingAsync(peer, peerName, 0, ct) is { } rtt)
        {
            estimator.AddRtt(rtt);
        }
        if (estimator.ProbeDue && core.Options.ProbeBytes > 0 && await TimePingAsync(peer, peerName, core.Options.ProbeBytes, ct) is { } probe)
        {
            estimator.AddTransfer(core.Options.ProbeBytes, probe, isProbe: true);
        }
    }

    private async Task<TimeSpan?> TimePingAsync(string peer, string? peerName, int paddingBytes, CancellationToken ct)
    {
        var request = new Proto.PingRequest { SentUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        if (paddingBytes > 0)
        {
            request.Padding = Google.Protobuf.ByteString.CopyFrom(new byte[paddingBytes]);
        }
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (core.Options.Emulation is { } emulation)
            {
                await emulation.BeforeSendAsync(EmulatedPeer(emulation, peer, peerName), paddingBytes, ct);
            }
            await new Proto.Agent.AgentClient(core.Channels.For(peer)).PingAsync(request, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: ct);
            return Stopwatch.GetElapsedTime(started);
        }
        catch (RpcException)
        {
            return null;
        }
    }

    /// <summary>The key an emulation file knows a peer by: its device name when listed so, else its address.</summary>
    internal static string EmulatedPeer(Monitoring.EmulatedLinks emulation, string address, string? device) =>
        device is not null && emulation.Find(device) is not null ? device : address;

    /// <summary>Wall clock in fractional ms since the epoch, for one-way transfer times (exact on one host, NTP-close across devices).</summary>
    internal static double NowUnixMs() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds;

    internal static Proto.DeviceMetrics ToProto(DeviceSample s)
    {
        var m = new Proto.DeviceMetrics
        {
            Name = s.Name,
            UnixMs = s.Time.ToUnixTimeMilliseconds(),
            CpuUtilisation = s.CpuUtilisation,
            MemoryAvailableBytes = s.MemoryAvailableBytes,
            MemoryLimitBytes = s.MemoryLimitBytes,
            ProcessCpuUtilisation = s.ProcessCpuUtilisation,
            ProcessRssBytes = s.ProcessRssBytes,
            NetBytesIn = s.NetBytesIn,
            NetBytesOut = s.NetBytesOut,
            TemperatureC = s.TemperatureC,
            PowerW = s.PowerW,
            EnergyJ = s.EnergyJ,
            PowerEstimated = s.PowerEstimated,
            Queued = s.Queued,
            Executed = s.Executed,
        };
        m.CpuPerCore.Add(s.CpuPerCore);
        m.Links.Add(s.Links.Select(l => new Proto.LinkMetrics { Peer = l.Peer, RttMs = l.RttMs, BandwidthBytesPerS = l.BandwidthBytesPerSecond }));
        return m;
    }

    internal static DeviceSample FromProto(Proto.DeviceMetrics m) => new(
        m.Name, DateTimeOffset.FromUnixTimeMilliseconds(m.UnixMs), m.CpuUtilisation, [.. m.CpuPerCore], m.MemoryAvailableBytes, m.MemoryLimitBytes,
        m.ProcessCpuUtilisation, m.ProcessRssBytes, m.NetBytesIn, m.NetBytesOut, m.TemperatureC, m.PowerW, m.EnergyJ, m.PowerEstimated,
        [.. m.Links.Select(l => new LinkSample(l.Peer, l.RttMs, l.BandwidthBytesPerS))], m.Queued, m.Executed);
}
