using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Grpc.Core;
using Grpc.Net.Client;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// A client of a coordinator (<c>edgesplit infer</c>, tests, the testbed), speaking the project's own types.
/// Failed calls throw <see cref="RpcException"/> with the coordinator's status; a bad address throws
/// <see cref="Graph.BadInputException"/> here, before anything is sent.
/// </summary>
public sealed class ClusterClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly Proto.Coordinator.CoordinatorClient _client;
    private readonly TimeProvider _time;

    public ClusterClient(string address, string? token = null, TimeProvider? time = null, TlsSettings? tls = null)
    {
        var (channel, invoker) = GrpcChannels.Open(address, token, tls: tls);
        _channel = channel;
        _client = new Proto.Coordinator.CoordinatorClient(invoker);
        _time = time ?? TimeProvider.System;
    }

    public async Task<InferResult> InferAsync(IReadOnlyList<WireTensor> inputs, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        var request = new Proto.InferRequest();
        request.Inputs.AddRange(inputs.Select(WireMapping.ToProto));
        var started = _time.GetTimestamp();
        using var scope = new TimeoutScope(_time, timeout ?? Timeout.InfiniteTimeSpan, ct);
        try
        {
            var reply = await _client.InferAsync(request, cancellationToken: scope.Token);
            // The client's own round trip: what a caller of the cluster waits.
            return WireMapping.FromProto(reply, _time.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (RpcException ex) when (scope.TimedOut && !ct.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"no answer within {timeout!.Value.TotalSeconds:0.###} s"), ex.Trailers);
        }
    }

    public async Task<(Plan Plan, FeatureMapCompression Compression)> GetPlanAsync(CancellationToken ct = default)
    {
        var reply = await _client.GetPlanAsync(new Proto.GetPlanRequest(), cancellationToken: ct);
        return (WireMapping.FromProto(reply), WireMapping.FromProto(reply.Compression));
    }

    /// <summary>Switches plans; returns the version given and the switch duration.</summary>
    public async Task<(long Version, TimeSpan SwitchDuration)> SetPlanAsync(Plan plan, FeatureMapCompression compression = FeatureMapCompression.None, CancellationToken ct = default)
    {
        var reply = await _client.SetPlanAsync(WireMapping.ToProto(plan, compression), cancellationToken: ct);
        return (reply.Version, TimeSpan.FromMilliseconds(reply.SwitchMs));
    }

    public async Task<CoordinatorStatus> StatusAsync(CancellationToken ct = default) =>
        WireMapping.FromProto(await _client.StatusAsync(new Proto.StatusRequest(), cancellationToken: ct));

    public void Dispose() => _channel.Dispose();
}
