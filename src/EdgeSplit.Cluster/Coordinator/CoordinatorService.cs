using EdgeSplit.Cluster.Transport;
using EdgeSplit.Planning;
using Grpc.Core;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>The coordinator's gRPC surface: maps messages to <see cref="ClusterCoordinator"/> calls at the edge.</summary>
internal sealed class CoordinatorService(ClusterCoordinator coordinator) : Proto.Coordinator.CoordinatorBase
{
    public override async Task<Proto.InferReply> Infer(Proto.InferRequest request, ServerCallContext context)
    {
        var inputs = request.Inputs.Select(TensorMapping.FromProto).ToList();
        var result = await coordinator.InferAsync(inputs, context.CancellationToken);
        var reply = new Proto.InferReply { PlanVersion = result.PlanVersion, Attempts = result.Attempts, LatencyMs = result.LatencyMs, EstimatedEnergyJ = result.EstimatedEnergyJ };
        reply.Hops.AddRange(result.Hops.Select(ToProto));
        reply.Outputs.AddRange(result.Outputs.Select(TensorMapping.ToProto));
        return reply;
    }

    public override Task<Proto.PlanMessage> GetPlan(Proto.GetPlanRequest request, ServerCallContext context)
    {
        var status = coordinator.Status();
        return Task.FromResult(status.Plan is null
            ? throw new RpcException(new Status(StatusCode.FailedPrecondition, $"no plan is deployed: {status.Unavailable}"))
            : ToProto(status.Plan, status.Compression));
    }

    public override async Task<Proto.SetPlanReply> SetPlan(Proto.PlanMessage request, ServerCallContext context)
    {
        var plan = FromProto(request);
        try
        {
            var record = await coordinator.SetPlanAsync(plan, TensorMapping.FromProto(request.Compression), "SetPlan", context.CancellationToken);
            return new Proto.SetPlanReply { Version = record.ToVersion, SwitchMs = record.Duration.TotalMilliseconds };
        }
        catch (Graph.BadInputException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }
        catch (NoPlanFitsException ex)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, ex.Message));
        }
        catch (Exception ex) when (ex.InnerException is RpcException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, ex.Message));
        }
    }

    public override Task<Proto.StatusReply> Status(Proto.StatusRequest request, ServerCallContext context)
    {
        var status = coordinator.Status();
        var reply = new Proto.StatusReply
        {
            Completed = status.Completed,
            Failed = status.Failed,
            Retried = status.Retried,
            InFlight = status.InFlight,
            Unavailable = status.Unavailable ?? "",
            Model = status.Model,
        };
        reply.OutputNames.Add(status.OutputNames);
        reply.Inputs.AddRange(status.Inputs.Select(i => new Proto.InputSpec
        {
            Name = i.Name,
            ElementType = (int)i.ElementType,
            Shape = { (i.Shape ?? []).Select(d => d ?? -1) },
            ShapeUnknown = i.Shape is null,
        }));
        if (status.Plan is not null)
        {
            reply.Plan = ToProto(status.Plan, status.Compression);
        }
        reply.Agents.AddRange(status.Agents.Select(a => new Proto.AgentStatus { Name = a.Name, Address = a.Address, Alive = a.Alive }));
        reply.Switches.AddRange(status.Switches.Select(s => new Proto.PlanSwitch
        {
            FromVersion = s.FromVersion,
            ToVersion = s.ToVersion,
            SwitchMs = s.Duration.TotalMilliseconds,
            Reason = s.Reason,
            UnixMs = s.Time.ToUnixTimeMilliseconds(),
        }));
        reply.Devices.AddRange(status.Devices.Select(ToProto));
        if (status.Adaptation is { } a)
        {
            reply.Adaptation = ToProto(a);
        }
        return Task.FromResult(reply);
    }

    public override Task<Proto.DeliverReply> Deliver(Proto.DeliverRequest request, ServerCallContext context)
    {
        // Malformed outputs become the attempt's error, so the request is retried rather than lost.
        List<Runtime.Codec.WireTensor> outputs;
        var error = string.IsNullOrEmpty(request.Error) ? null : request.Error;
        try
        {
            outputs = [.. request.Outputs.Select(TensorMapping.FromProto)];
        }
        catch (RpcException ex)
        {
            outputs = [];
            error ??= ex.Status.Detail;
        }
        coordinator.Deliver(request.RequestId, outputs, error, string.IsNullOrEmpty(request.FailedDevice) ? null : request.FailedDevice,
            [.. request.Timings.Select(FromProto)]);
        return Task.FromResult(new Proto.DeliverReply());
    }

    internal static Proto.PlanMessage ToProto(Plan plan, Runtime.Codec.FeatureMapCompression compression)
    {
        var message = new Proto.PlanMessage { Version = plan.Version, Compression = TensorMapping.ToProto(compression) };
        message.Stages.AddRange(plan.Stages.Select(s => new Proto.StageMessage { Device = s.Device, FirstNode = s.FirstNode, LastNode = s.LastNode }));
        return message;
    }

    internal static HopTiming FromProto(Proto.HopTiming t) =>
        new(t.Hop, t.Device, t.ComputeMs, t.BytesIn, t.TransferInMs, string.IsNullOrEmpty(t.FromDevice) ? null : t.FromDevice);

    internal static Proto.HopTiming ToProto(HopTiming h) => new()
    {
        Hop = h.Hop,
        Device = h.Device,
        ComputeMs = h.ComputeMs,
        BytesIn = h.BytesIn,
        TransferInMs = h.TransferInMs,
        FromDevice = h.FromDevice ?? "",
    };

    internal static Proto.DeviceStatus ToProto(DeviceView d)
    {
        var m = new Proto.DeviceStatus
        {
            Name = d.Name,
            Alive = d.Alive,
            UnixMs = d.Time?.ToUnixTimeMilliseconds() ?? 0,
            CpuUtilisation = d.CpuUtilisation,
            CpuAvailability = d.CpuAvailability,
            MemoryAvailableBytes = d.MemoryAvailableBytes,
            PowerW = d.PowerW,
            PowerEstimated = d.PowerEstimated,
            Queued = d.Queued,
            Executed = d.Executed,
        };
        m.Links.AddRange(d.Links.Select(l => new Proto.LinkMetrics { Peer = l.Peer, RttMs = l.RttMs, BandwidthBytesPerS = l.BytesPerSecond }));
        return m;
    }

    internal static DeviceView FromProto(Proto.DeviceStatus d) => new(
        d.Name, d.Alive, d.UnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(d.UnixMs) : null, d.CpuUtilisation, d.CpuAvailability, d.MemoryAvailableBytes,
        d.PowerW, d.PowerEstimated, d.Queued, d.Executed, [.. d.Links.Select(l => new LinkView(l.Peer, l.RttMs, l.BandwidthBytesPerS))]);

    internal static Proto.AdaptationStatus ToProto(AdaptationStatus a)
    {
        var m = new Proto.AdaptationStatus
        {
            Planner = a.Planner,
            Objective = a.Objective,
            CostCorrection = a.CostCorrection,
            Decisions = a.Decisions,
            Switches = a.Switches,
            LastDecisionMs = a.LastDecisionMs,
            MeanDecisionMs = a.MeanDecisionMs,
            ObservedRequests = a.ObservedRequests,
        };
        foreach (var (reason, count) in a.Counts)
        {
            m.Counts[reason] = count;
        }
        m.Recent.AddRange(a.Recent.Select(r => new Proto.Decision
        {
            UnixMs = r.Time.ToUnixTimeMilliseconds(),
            Switched = r.Switched,
            Reason = r.Reason,
            Detail = r.Detail,
            OldPlan = r.OldPlan ?? "",
            Plan = r.Plan,
            OldValue = r.OldValue,
            NewValue = r.NewValue,
            PredictedGain = r.PredictedGain,
            DecisionMs = r.DecisionMs,
        }));
        return m;
    }

    internal static AdaptationStatus FromProto(Proto.AdaptationStatus a) => new(
        a.Planner, a.Objective, a.CostCorrection, new Dictionary<string, long>(a.Counts, StringComparer.Ordinal), a.Decisions, a.Switches,
        [.. a.Recent.Select(r => new DecisionRecord(DateTimeOffset.FromUnixTimeMilliseconds(r.UnixMs), r.Switched, r.Reason, r.Detail,
            string.IsNullOrEmpty(r.OldPlan) ? null : r.OldPlan, r.Plan, r.OldValue, r.NewValue, r.PredictedGain, r.DecisionMs))],
        a.LastDecisionMs, a.MeanDecisionMs, a.ObservedRequests);

    internal static Plan FromProto(Proto.PlanMessage message) =>
        new(message.Version, [.. message.Stages.Select(s => new Stage(s.Device, s.FirstNode, s.LastNode))]);
}
