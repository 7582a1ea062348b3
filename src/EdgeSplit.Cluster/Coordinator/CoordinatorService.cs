using EdgeSplit.Cluster.Transport;
using Grpc.Core;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>The coordinator's gRPC surface: maps messages to <see cref="ClusterCoordinator"/> calls at the edge (failures map to statuses in <see cref="StatusInterceptor"/>).</summary>
internal sealed class CoordinatorService(ClusterCoordinator coordinator) : Proto.Coordinator.CoordinatorBase
{
    public override async Task<Proto.InferReply> Infer(Proto.InferRequest request, ServerCallContext context)
    {
        var inputs = request.Inputs.Select(WireMapping.FromProto).ToList();
        return WireMapping.ToProto(await coordinator.InferAsync(inputs, context.CancellationToken));
    }

    public override Task<Proto.PlanMessage> GetPlan(Proto.GetPlanRequest request, ServerCallContext context)
    {
        var status = coordinator.Status();
        return Task.FromResult(status.Plan is null
            ? throw new NoPlanFitsException($"no plan is deployed: {status.Unavailable}")
            : WireMapping.ToProto(status.Plan, status.Compression));
    }

    public override async Task<Proto.SetPlanReply> SetPlan(Proto.PlanMessage request, ServerCallContext context)
    {
        var record = await coordinator.SetPlanAsync(WireMapping.FromProto(request), WireMapping.FromProto(request.Compression), "SetPlan", context.CancellationToken);
        return new Proto.SetPlanReply { Version = record.ToVersion, SwitchMs = record.Duration.TotalMilliseconds };
    }

    public override Task<Proto.StatusReply> Status(Proto.StatusRequest request, ServerCallContext context) =>
        Task.FromResult(WireMapping.ToProto(coordinator.Status()));

    public override async Task<Proto.JoinReply> Join(Proto.JoinRequest request, ServerCallContext context)
    {
        await coordinator.JoinAsync(WireMapping.FromProto(request), context.CancellationToken);
        return new Proto.JoinReply { HeartbeatTimeoutMs = (long)coordinator.HeartbeatTimeout.TotalMilliseconds };
    }

    public override Task<Proto.DeliverReply> Deliver(Proto.DeliverRequest request, ServerCallContext context)
    {
        coordinator.Deliver(WireMapping.FromProto(request));
        return Task.FromResult(new Proto.DeliverReply());
    }
}
