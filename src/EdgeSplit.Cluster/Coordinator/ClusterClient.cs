using EdgeSplit.Cluster.Transport;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Grpc.Net.Client;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>A client of a coordinator (<c>edgesplit infer</c>, tests, the testbed), speaking the project's own types.</summary>
public sealed class ClusterClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly Proto.Coordinator.CoordinatorClient _client;

    public ClusterClient(string address, string? token = null)
    {
        var (channel, invoker) = GrpcChannels.Open(address, token);
        _channel = channel;
        _client = new Proto.Coordinator.CoordinatorClient(invoker);
    }

    public async Task<InferResult> InferAsync(IReadOnlyList<WireTensor> inputs, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        var request = new Proto.InferRequest();
        request.Inputs.AddRange(inputs.Select(TensorMapping.ToProto));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var reply = await _client.InferAsync(request, deadline: timeout is null ? null : DateTime.UtcNow + timeout, cancellationToken: ct);
        return new InferResult([.. reply.Outputs.Select(TensorMapping.FromProto)], reply.PlanVersion, reply.Attempts)
        {
            // The client's own round trip: what a caller of the cluster waits.
            LatencyMs = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            Hops = [.. reply.Hops.Select(CoordinatorService.FromProto)],
            EstimatedEnergyJ = reply.EstimatedEnergyJ,
        };
    }

    public async Task<(Plan Plan, FeatureMapCompression Compression)> GetPlanAsync(CancellationToken ct = default)
    {
        var reply = await _client.GetPlanAsync(new Proto.GetPlanRequest(), cancellationToken: ct);
        return (CoordinatorService.FromProto(reply), TensorMapping.FromProto(reply.Compression));
    }

    /// <summary>Switches plans; returns the version given and the switch duration.</summary>
    public async Task<(long Version, TimeSpan SwitchDuration)> SetPlanAsync(Plan plan, FeatureMapCompression compression = FeatureMapCompression.None, CancellationToken ct = default)
    {
        var reply = await _client.SetPlanAsync(CoordinatorService.ToProto(plan, compression), cancellationToken: ct);
        return (reply.Version, TimeSpan.FromMilliseconds(reply.SwitchMs));
    }

    public async Task<CoordinatorStatus> StatusAsync(CancellationToken ct = default)
    {
        var s = await _client.StatusAsync(new Proto.StatusRequest(), cancellationToken: ct);
        return new CoordinatorStatus(
            s.Plan is null ? null : CoordinatorService.FromProto(s.Plan),
            s.Plan is null ? FeatureMapCompression.None : TensorMapping.FromProto(s.Plan.Compression),
            [.. s.Agents.Select(a => new AgentState(a.Name, a.Address, a.Alive))],
            s.Completed, s.Failed, s.Retried, s.InFlight,
            [.. s.Switches.Select(w => new PlanSwitch(w.FromVersion, w.ToVersion, TimeSpan.FromMilliseconds(w.SwitchMs), w.Reason, DateTimeOffset.FromUnixTimeMilliseconds(w.UnixMs)))],
            string.IsNullOrEmpty(s.Unavailable) ? null : s.Unavailable,
            s.Model,
            [.. s.Inputs.Select(i => new ModelInputSpec(i.Name, (Microsoft.ML.OnnxRuntime.Tensors.TensorElementType)i.ElementType, i.ShapeUnknown ? null : [.. i.Shape.Select(d => d < 0 ? (long?)null : d)]))],
            [.. s.OutputNames])
        {
            Devices = [.. s.Devices.Select(CoordinatorService.FromProto)],
            Adaptation = s.Adaptation is null ? null : CoordinatorService.FromProto(s.Adaptation),
        };
    }

    public void Dispose() => _channel.Dispose();
}
