using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Graph.Tiling;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime.Tensors;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Transport;

/// <summary>
/// Every mapping between the generated gRPC messages and the cluster's own types, in one place at the
/// transport edge. Tensor bytes are wrapped, never copied; malformed messages become a
/// <see cref="ClusterException"/> of kind <see cref="FailureKind.BadRequest"/>.
/// </summary>
public static class WireMapping
{
    /// <summary>Largest rank accepted from the wire.</summary>
    public const int MaxRank = 8;

    // ------------------------------------------------------------------ tensors

    /// <summary>A view of <paramref name="tensor"/>'s bytes (valid while the message is); throws when shape, type or byte count disagree.</summary>
    public static WireTensor FromProto(Proto.Tensor tensor)
    {
        if (string.IsNullOrEmpty(tensor.Name))
        {
            throw Invalid("a tensor has no name");
        }
        if (tensor.Shape.Count > MaxRank || tensor.Shape.Any(d => d < 0 || d > int.MaxValue))
        {
            throw Invalid($"tensor '{tensor.Name}' has an invalid shape [{string.Join(',', tensor.Shape)}]");
        }
        var type = (TensorElementType)tensor.ElementType;
        if (!Enum.IsDefined(type) || WireTensor.ElementSize(type) == 0)
        {
            throw Invalid($"tensor '{tensor.Name}' has unsupported element type {tensor.ElementType}");
        }
        var compression = (FeatureMapCompression)(int)tensor.Compression;
        if (!Enum.IsDefined(compression) || (compression != FeatureMapCompression.None && type != TensorElementType.Float))
        {
            throw Invalid($"tensor '{tensor.Name}' has compression {tensor.Compression} on a {type} tensor");
        }
        var wire = new WireTensor(tensor.Name, type, [.. tensor.Shape], tensor.Data.Memory, compression, tensor.Scale, tensor.ZeroPoint);
        long expected;
        try
        {
            expected = wire.ExpectedByteCount;
        }
        catch (OverflowException)
        {
            throw Invalid($"tensor '{tensor.Name}' shape [{string.Join(',', tensor.Shape)}] is too large");
        }
        if (expected != tensor.Data.Length)
        {
            throw Invalid($"tensor '{tensor.Name}' of shape [{string.Join(',', tensor.Shape)}] {type} ({FeatureMapCodec.Name(compression)}) needs {expected} bytes, got {tensor.Data.Length}");
        }
        return wire;
    }

    /// <summary>The message for <paramref name="tensor"/>, wrapping its bytes (keep them alive until sent).</summary>
    public static Proto.Tensor ToProto(WireTensor tensor)
    {
        var message = new Proto.Tensor
        {
            Name = tensor.Name,
            ElementType = (int)tensor.ElementType,
            Data = UnsafeByteOperations.UnsafeWrap(tensor.Data),
            Compression = (Proto.Compression)(int)tensor.Compression,
            Scale = tensor.Scale,
            ZeroPoint = tensor.ZeroPoint,
        };
        message.Shape.Add(tensor.Shape);
        return message;
    }

    public static FeatureMapCompression FromProto(Proto.Compression compression) => (FeatureMapCompression)(int)compression;

    public static Proto.Compression ToProto(FeatureMapCompression compression) => (Proto.Compression)(int)compression;

    // ------------------------------------------------------------------ agent calls

    public static Proto.ExecuteRequest ToProto(HopRequest r, double sentUnixMs)
    {
        var message = new Proto.ExecuteRequest
        {
            RequestId = r.RequestId,
            Attempt = r.Attempt,
            Version = r.Version,
            Hop = r.Hop,
            ReplyTo = r.ReplyTo,
            DeadlineUnixMs = r.Deadline.ToUnixTimeMilliseconds(),
            SentUnixMs = sentUnixMs,
            FromDevice = r.FromDevice ?? "",
        };
        message.Tensors.AddRange(r.Tensors.Select(ToProto));
        message.Timings.AddRange(r.Timings.Select(ToProto));
        return message;
    }

    public static HopRequest FromProto(Proto.ExecuteRequest m) => new(
        m.RequestId,
        m.Attempt,
        m.Version,
        m.Hop,
        m.ReplyTo,
        m.DeadlineUnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(m.DeadlineUnixMs) : DateTimeOffset.MaxValue,
        [.. m.Tensors.Select(FromProto)],
        [.. m.Timings.Select(FromProto)],
        string.IsNullOrEmpty(m.FromDevice) ? null : m.FromDevice);

    public static Proto.DeployRequest ToProto(DeploymentOrder order)
    {
        var request = new Proto.DeployRequest { Version = order.Version, ReplyTo = order.ReplyTo };
        request.Peers.AddRange(order.Peers);
        foreach (var hop in order.Hops)
        {
            var config = new Proto.HopConfig
            {
                Hop = hop.Hop,
                PartitionSha256 = hop.PartitionSha256 ?? "",
                NextAddress = hop.NextAddress ?? "",
                NextDevice = hop.NextDevice ?? "",
                Compression = ToProto(hop.Compression),
                Join = hop.Join,
                NextHop = hop.NextHop,
            };
            config.Inputs.Add(hop.Inputs);
            config.Forwards.Add(hop.Forwards);
            foreach (var target in hop.FanOut)
            {
                var message = new Proto.HopTarget { Hop = target.Hop, Address = target.Address, Device = target.Device };
                message.Tensors.Add(target.Tensors);
                config.FanOut.Add(message);
            }
            request.Hops.Add(config);
        }
        return request;
    }

    public static DeploymentOrder FromProto(Proto.DeployRequest m) => new(
        m.Version,
        [.. m.Hops.Select(h => new HopDeployment(
            h.Hop,
            string.IsNullOrEmpty(h.PartitionSha256) ? null : h.PartitionSha256.ToLowerInvariant(),
            [.. h.Inputs],
            [.. h.Forwards],
            string.IsNullOrEmpty(h.NextAddress) ? null : h.NextAddress,
            string.IsNullOrEmpty(h.NextDevice) ? null : h.NextDevice,
            FromProto(h.Compression))
        {
            FanOut = [.. h.FanOut.Select(t => new HopTarget(t.Hop, t.Address, t.Device, [.. t.Tensors]))],
            Join = Math.Max(1, h.Join),
            NextHop = Math.Max(0, h.NextHop),
        })],
        m.ReplyTo,
        [.. m.Peers]);

    public static Proto.DeliverRequest ToProto(Delivery d)
    {
        var request = new Proto.DeliverRequest { RequestId = d.RequestId, Error = d.Error ?? "", FailedDevice = d.FailedDevice ?? "" };
        request.Outputs.AddRange(d.Outputs.Select(ToProto));
        request.Timings.AddRange(d.Timings.Select(ToProto));
        return request;
    }

    /// <summary>Malformed outputs become the delivery's error, so the attempt is retried rather than lost.</summary>
    public static Delivery FromProto(Proto.DeliverRequest m)
    {
        var error = string.IsNullOrEmpty(m.Error) ? null : m.Error;
        IReadOnlyList<WireTensor> outputs;
        try
        {
            outputs = [.. m.Outputs.Select(FromProto)];
        }
        catch (ClusterException ex)
        {
            outputs = [];
            error ??= ex.Message;
        }
        return new Delivery(m.RequestId, outputs, error, string.IsNullOrEmpty(m.FailedDevice) ? null : m.FailedDevice, [.. m.Timings.Select(FromProto)]);
    }

    public static HopTiming FromProto(Proto.HopTiming t) =>
        new(t.Hop, t.Device, t.ComputeMs, t.BytesIn, t.TransferInMs, string.IsNullOrEmpty(t.FromDevice) ? null : t.FromDevice);

    public static Proto.HopTiming ToProto(HopTiming h) => new()
    {
        Hop = h.Hop,
        Device = h.Device,
        ComputeMs = h.ComputeMs,
        BytesIn = h.BytesIn,
        TransferInMs = h.TransferInMs,
        FromDevice = h.FromDevice ?? "",
    };

    public static Proto.DeviceMetrics ToProto(DeviceSample s)
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
            Provider = s.Provider ?? "",
        };
        m.CpuPerCore.Add(s.CpuPerCore);
        m.Links.Add(s.Links.Select(l => new Proto.LinkMetrics { Peer = l.Peer, RttMs = l.RttMs, BandwidthBytesPerS = l.BandwidthBytesPerSecond }));
        return m;
    }

    public static DeviceSample FromProto(Proto.DeviceMetrics m) => new(
        m.Name, DateTimeOffset.FromUnixTimeMilliseconds(m.UnixMs), m.CpuUtilisation, [.. m.CpuPerCore], m.MemoryAvailableBytes, m.MemoryLimitBytes,
        m.ProcessCpuUtilisation, m.ProcessRssBytes, m.NetBytesIn, m.NetBytesOut, m.TemperatureC, m.PowerW, m.EnergyJ, m.PowerEstimated,
        [.. m.Links.Select(l => new LinkSample(l.Peer, l.RttMs, l.BandwidthBytesPerS))], m.Queued, m.Executed)
    {
        Provider = string.IsNullOrEmpty(m.Provider) ? null : m.Provider,
    };

    // ------------------------------------------------------------------ coordinator calls

    public static Proto.JoinRequest ToProto(JoinNotice n) =>
        new() { Name = n.Name, Address = n.Address, Provider = n.Provider ?? "", Leaving = n.Leaving };

    public static JoinNotice FromProto(Proto.JoinRequest r) =>
        new(r.Name, r.Address, string.IsNullOrEmpty(r.Provider) ? null : r.Provider, r.Leaving);

    public static Proto.PlanMessage ToProto(Plan plan, FeatureMapCompression compression)
    {
        var message = new Proto.PlanMessage { Version = plan.Version, Compression = ToProto(compression) };
        message.Stages.AddRange(plan.Stages.Select(s => new Proto.StageMessage { Device = s.Device, FirstNode = s.FirstNode, LastNode = s.LastNode, Tiles = ToProto(s.Tiles) }));
        return message;
    }

    public static Plan FromProto(Proto.PlanMessage message) =>
        new(message.Version, [.. message.Stages.Select(s => new Stage(s.Device, s.FirstNode, s.LastNode, FromProto(s.Tiles)))]);

    private static Proto.TileGroupMessage? ToProto(TileGroup? tiles)
    {
        if (tiles is null)
        {
            return null;
        }
        var message = new Proto.TileGroupMessage();
        message.RowWeights.Add(tiles.Grid.RowWeights);
        message.ColumnWeights.Add(tiles.Grid.ColumnWeights);
        message.Devices.Add(tiles.Devices);
        return message;
    }

    /// <summary>A tile group from the wire; bad weights (none, or not positive) are bad input (<see cref="TileGrid.Weighted"/> throws).</summary>
    private static TileGroup? FromProto(Proto.TileGroupMessage? message) =>
        message is null ? null : new TileGroup(TileGrid.Weighted([.. message.RowWeights], [.. message.ColumnWeights]), [.. message.Devices]);

    public static Proto.InferReply ToProto(InferResult result)
    {
        var reply = new Proto.InferReply { PlanVersion = result.PlanVersion, Attempts = result.Attempts, LatencyMs = result.LatencyMs, EstimatedEnergyJ = result.EstimatedEnergyJ };
        reply.Hops.AddRange(result.Hops.Select(ToProto));
        reply.Outputs.AddRange(result.Outputs.Select(ToProto));
        return reply;
    }

    public static InferResult FromProto(Proto.InferReply reply, double latencyMs) =>
        new([.. reply.Outputs.Select(FromProto)], reply.PlanVersion, reply.Attempts)
        {
            LatencyMs = latencyMs,
            Hops = [.. reply.Hops.Select(FromProto)],
            EstimatedEnergyJ = reply.EstimatedEnergyJ,
        };

    public static Proto.StatusReply ToProto(CoordinatorStatus status)
    {
        var reply = new Proto.StatusReply
        {
            Completed = status.Completed,
            Failed = status.Failed,
            Retried = status.Retried,
            InFlight = status.InFlight,
            Unavailable = status.Unavailable ?? "",
            Degraded = status.Degraded ?? "",
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
        return reply;
    }

    public static CoordinatorStatus FromProto(Proto.StatusReply s) => new(
        s.Plan is null ? null : FromProto(s.Plan),
        s.Plan is null ? FeatureMapCompression.None : FromProto(s.Plan.Compression),
        [.. s.Agents.Select(a => new AgentState(a.Name, a.Address, a.Alive))],
        s.Completed, s.Failed, s.Retried, s.InFlight,
        [.. s.Switches.Select(w => new PlanSwitch(w.FromVersion, w.ToVersion, TimeSpan.FromMilliseconds(w.SwitchMs), w.Reason, DateTimeOffset.FromUnixTimeMilliseconds(w.UnixMs)))],
        string.IsNullOrEmpty(s.Unavailable) ? null : s.Unavailable,
        s.Model,
        [.. s.Inputs.Select(i => new ModelInputSpec(i.Name, (TensorElementType)i.ElementType, i.ShapeUnknown ? null : [.. i.Shape.Select(d => d < 0 ? (long?)null : d)]))],
        [.. s.OutputNames])
    {
        Devices = [.. s.Devices.Select(FromProto)],
        Adaptation = s.Adaptation is null ? null : FromProto(s.Adaptation),
        Degraded = string.IsNullOrEmpty(s.Degraded) ? null : s.Degraded,
    };

    public static Proto.DeviceStatus ToProto(DeviceView d)
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
            Provider = d.Provider ?? "",
        };
        m.Links.AddRange(d.Links.Select(l => new Proto.LinkMetrics { Peer = l.Peer, RttMs = l.RttMs, BandwidthBytesPerS = l.BytesPerSecond }));
        return m;
    }

    public static DeviceView FromProto(Proto.DeviceStatus d) => new(
        d.Name, d.Alive, d.UnixMs > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(d.UnixMs) : null, d.CpuUtilisation, d.CpuAvailability, d.MemoryAvailableBytes,
        d.PowerW, d.PowerEstimated, d.Queued, d.Executed, [.. d.Links.Select(l => new LinkView(l.Peer, l.RttMs, l.BandwidthBytesPerS))])
    {
        Provider = string.IsNullOrEmpty(d.Provider) ? null : d.Provider,
    };

    public static Proto.AdaptationStatus ToProto(AdaptationStatus a)
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

    public static AdaptationStatus FromProto(Proto.AdaptationStatus a) => new(
        a.Planner, a.Objective, a.CostCorrection, new Dictionary<string, long>(a.Counts, StringComparer.Ordinal), a.Decisions, a.Switches,
        [.. a.Recent.Select(r => new DecisionRecord(DateTimeOffset.FromUnixTimeMilliseconds(r.UnixMs), r.Switched, r.Reason, r.Detail,
            string.IsNullOrEmpty(r.OldPlan) ? null : r.OldPlan, r.Plan, r.OldValue, r.NewValue, r.PredictedGain, r.DecisionMs))],
        a.LastDecisionMs, a.MeanDecisionMs, a.ObservedRequests);

    private static ClusterException Invalid(string message) => new(FailureKind.BadRequest, message);
}
