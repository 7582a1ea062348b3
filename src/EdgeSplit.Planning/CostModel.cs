namespace EdgeSplit.Planning;

/// <summary>One network transfer of a plan: upload of the input, a hop between stages, or the return of the result.</summary>
public sealed record Hop(string From, string To, long Bytes, double Ms);

/// <summary>An observed transfer, reported after a request was served.</summary>
public sealed record HopObservation(string From, string To, long Bytes, double ObservedMs);

/// <summary>
/// What the cost model predicts for one plan. Energy is estimated from power models.
/// <see cref="Feasible"/> is false (and the figures infinite) when a stage exceeds its device's
/// memory budget, a device is unknown, or a needed link is missing.
/// </summary>
public sealed record PlanEstimate(
    double LatencyMs,
    double EnergyJ,
    double BottleneckMs,
    IReadOnlyList<double> StageComputeMs,
    IReadOnlyList<long> StageMemoryBytes,
    IReadOnlyList<Hop> Hops,
    bool Feasible,
    string? InfeasibleReason)
{
    /// <summary>Requests per second when consecutive requests are pipelined through the stages.</summary>
    public double ThroughputPerS => BottleneckMs > 0 ? 1000.0 / BottleneckMs : double.PositiveInfinity;

    /// <summary>The figure <paramref name="objective"/> minimises (ms, J, or ms + weight x J).</summary>
    public double Value(Objective objective) => objective.Of(LatencyMs, EnergyJ, BottleneckMs);
}

/// <summary>
/// Predicts latency, energy and pipelined throughput of a plan from a <see cref="PlanningState"/>,
/// and corrects itself online: each observed stage or hop time updates a multiplicative factor
/// per device or per link (EWMA of observed / predicted). Correction can be switched off, which
/// makes <see cref="Observe"/> a no-op. Thread-safe.
/// </summary>
public sealed class CostModel
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, double> _deviceFactors = [];
    private readonly Dictionary<(string From, string To), double> _linkFactors = [];

    public CostModel(bool correctionEnabled = true, double smoothing = 0.2)
    {
        if (!(smoothing > 0 && smoothing <= 1)) throw new ArgumentOutOfRangeException(nameof(smoothing), "EWMA smoothing must be in (0, 1]");
        CorrectionEnabled = correctionEnabled;
        Smoothing = smoothing;
    }

    /// <summary>When false, observations are ignored and every factor stays where it is.</summary>
    public bool CorrectionEnabled { get; set; }

    /// <summary>EWMA weight of the newest observation.</summary>
    public double Smoothing { get; }

    /// <summary>Multiplier on predicted compute time of <paramref name="device"/> (1 = trust the profile).</summary>
    public double DeviceFactor(string device)
    {
        lock (_gate) return _deviceFactors.GetValueOrDefault(device, 1.0);
    }

    /// <summary>Multiplier on predicted transfer time over <paramref name="from"/> -> <paramref name="to"/>.</summary>
    public double LinkFactor(string from, string to)
    {
        lock (_gate) return _linkFactors.GetValueOrDefault((from, to), 1.0);
    }

    /// <summary>Forgets every correction.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _deviceFactors.Clear();
            _linkFactors.Clear();
        }
    }

    /// <summary>
    /// Updates the factors from one served request: <paramref name="observedStageMs"/>[k] is the
    /// compute time of stage k, <paramref name="observedHops"/> the transfers as they happened.
    /// Observations of zero predicted time are skipped (nothing to scale).
    /// </summary>
    public void Observe(PlanningState state, Plan plan, IReadOnlyList<double> observedStageMs, IReadOnlyList<HopObservation> observedHops)
    {
        if (!CorrectionEnabled) return;
        if (observedStageMs.Count != plan.Stages.Count)
        {
            throw new ArgumentException($"plan has {plan.Stages.Count} stages, got {observedStageMs.Count} stage times", nameof(observedStageMs));
        }
        lock (_gate)
        {
            for (var k = 0; k < plan.Stages.Count; k++)
            {
                var stage = plan.Stages[k];
                // A tile group's time is several devices' at once: it says nothing about one device's speed.
                if (stage.Tiles is not null) continue;
                var device = state.Devices.FirstOrDefault(d => d.Name == stage.Device);
                if (device is null) continue;
                var raw = RawComputeMs(state, device, stage.FirstNode, stage.LastNode);
                if (raw > 0 && observedStageMs[k] >= 0 && double.IsFinite(observedStageMs[k]))
                {
                    Blend(_deviceFactors, stage.Device, observedStageMs[k] / raw);
                }
            }
            foreach (var hop in observedHops)
            {
                if (hop.From == hop.To) continue;
                var raw = RawTransferMs(state, hop.From, hop.To, hop.Bytes);
                if (raw > 0 && double.IsFinite(raw) && hop.ObservedMs >= 0 && double.IsFinite(hop.ObservedMs))
                {
                    Blend(_linkFactors, (hop.From, hop.To), hop.ObservedMs / raw);
                }
            }
        }
    }

    private void Blend<TKey>(Dictionary<TKey, double> factors, TKey key, double ratio) where TKey : notnull
    {
        // Clamp so one outlier (a GC pause, a retransmit) cannot swing the model by orders of magnitude.
        ratio = Math.Clamp(ratio, 0.05, 20);
        var old = factors.GetValueOrDefault(key, 1.0);
        factors[key] = ((1 - Smoothing) * old) + (Smoothing * ratio);
    }

    /// <summary>Compute time of nodes first..last on <paramref name="device"/> before correction.</summary>
    public static double RawComputeMs(PlanningState state, DeviceSpec device, int firstNode, int lastNode)
    {
        var profile = state.Profile;
        double sum = 0;
        if (profile.DeviceNodeMs is not null && profile.DeviceNodeMs.TryGetValue(device.Name, out var measured))
        {
            for (var i = firstNode; i <= lastNode; i++) sum += measured[i];
        }
        else
        {
            for (var i = firstNode; i <= lastNode; i++) sum += profile.ReferenceNodeMs[i];
            sum /= device.RelativeSpeed;
        }
        return sum / device.CpuAvailability;
    }

    /// <summary>Transfer time before correction; 0 on the same device, infinite without a usable link.</summary>
    public static double RawTransferMs(PlanningState state, string from, string to, long bytes)
    {
        if (from == to) return 0;
        var link = state.Link(from, to);
        if (link is null) return double.PositiveInfinity;
        if (bytes == 0) return link.RttMs;
        if (!(link.BytesPerSecond > 0)) return double.PositiveInfinity;
        return (bytes * 1000.0 / link.BytesPerSecond) + link.RttMs;
    }

    /// <summary>Predicts the figures of <paramref name="plan"/> in <paramref name="state"/> with the current corrections.</summary>
    public PlanEstimate Estimate(PlanningState state, Plan plan)
    {
        if (plan.Stages.Any(s => s.Tiles is not null)) return TileGroupCost.Estimate(this, state, plan);
        var profile = state.Profile;
        var n = profile.NodeCount;
        var stages = plan.Stages;
        string? reason = null;
        if (stages.Count == 0 || stages[0].FirstNode != 0 || stages[^1].LastNode != n - 1)
        {
            reason = $"plan does not cover nodes 0..{n - 1}";
        }
        for (var k = 1; k < stages.Count && reason is null; k++)
        {
            if (stages[k].FirstNode != stages[k - 1].LastNode + 1) reason = $"stages {k - 1} and {k} are not contiguous";
        }
        if (reason is null && stages.Select(s => s.Device).Distinct().Count() != stages.Count) reason = "a device appears in two stages";
        if (reason is not null) return Infeasible(reason);

        var computeMs = new double[stages.Count];
        var memory = new long[stages.Count];
        var hops = new List<Hop>(stages.Count + 1);
        double latency = 0, energy = 0, bottleneck = 0;

        void AddHop(string from, string to, long bytes)
        {
            if (from == to) return;
            var ms = RawTransferMs(state, from, to, bytes) * LinkFactor(from, to);
            hops.Add(new Hop(from, to, bytes, ms));
            latency += ms;
            bottleneck = Math.Max(bottleneck, ms);
            energy += EnergyModel.TransferJ(state.Device(from).Power, state.Device(to).Power, bytes);
        }

        for (var k = 0; k < stages.Count; k++)
        {
            var stage = stages[k];
            var device = state.Devices.FirstOrDefault(d => d.Name == stage.Device);
            if (device is null) return Infeasible($"unknown device '{stage.Device}'");
            for (var i = stage.FirstNode; i <= stage.LastNode; i++) memory[k] += profile.NodeMemoryBytes[i];
            if (memory[k] > device.MemoryBudgetBytes)
            {
                return Infeasible($"stage {k} needs {memory[k]} bytes on {device.Name}, budget {device.MemoryBudgetBytes}");
            }
            AddHop(k == 0 ? state.EntryDevice ?? state.SourceDevice : stages[k - 1].Device, stage.Device, k == 0 ? profile.InputBytes : profile.CutBytes[stages[k - 1].LastNode]);
            computeMs[k] = RawComputeMs(state, device, stage.FirstNode, stage.LastNode) * DeviceFactor(device.Name);
            latency += computeMs[k];
            bottleneck = Math.Max(bottleneck, computeMs[k]);
            energy += EnergyModel.ComputeJ(device.Power, computeMs[k]);
        }
        AddHop(stages[^1].Device, state.SourceDevice, profile.OutputBytes);
        if (!double.IsFinite(latency)) return Infeasible("a needed link is missing or has no bandwidth") with { Hops = hops };
        return new PlanEstimate(latency, energy, bottleneck, computeMs, memory, hops, true, null);
    }

    private static PlanEstimate Infeasible(string reason) =>
        new(double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, [], [], [], false, reason);

    /// <summary>Flattens the state and corrections into arrays for the planners' inner loops.</summary>
    internal CostTables Compile(PlanningState state)
    {
        state.Validate();
        lock (_gate) return new CostTables(state, _deviceFactors, _linkFactors);
    }
}

/// <summary>The cost model as arrays indexed by device number and node, for planners' inner loops.</summary>
internal sealed class CostTables
{
    public readonly int DeviceCount;
    public readonly int NodeCount;
    public readonly string[] Names;
    public readonly int Source;
    /// <summary>[device][i] = corrected compute ms of nodes 0..i-1 on that device.</summary>
    public readonly double[][] ComputePrefixMs;
    /// <summary>[i] = memory bytes of nodes 0..i-1.</summary>
    public readonly long[] MemoryPrefix;
    public readonly long[] MemoryBudget;
    public readonly double[] ActiveJoulesPerMs;
    public readonly double[] SendJoulesPerByte;
    public readonly double[] ReceiveJoulesPerByte;
    /// <summary>[from * D + to]; infinite when there is no usable link.</summary>
    public readonly double[] MsPerByte;
    public readonly double[] RttMs;
    public readonly bool[] HasLink;
    public readonly long[] CutBytes;
    public readonly long InputBytes;
    public readonly long OutputBytes;

    public CostTables(PlanningState state, IReadOnlyDictionary<string, double> deviceFactors, IReadOnlyDictionary<(string, string), double> linkFactors)
    {
        var profile = state.Profile;
        DeviceCount = state.Devices.Count;
        NodeCount = profile.NodeCount;
        Names = [.. state.Devices.Select(d => d.Name)];
        Source = Array.IndexOf(Names, state.SourceDevice);
        ComputePrefixMs = new double[DeviceCount][];
        MemoryBudget = new long[DeviceCount];
        ActiveJoulesPerMs = new double[DeviceCount];
        SendJoulesPerByte = new double[DeviceCount];
        ReceiveJoulesPerByte = new double[DeviceCount];
        for (var d = 0; d < DeviceCount; d++)
        {
            var device = state.Devices[d];
            var factor = deviceFactors.GetValueOrDefault(device.Name, 1.0);
            IReadOnlyList<double>? measured = null;
            profile.DeviceNodeMs?.TryGetValue(device.Name, out measured);
            var scale = factor / device.CpuAvailability / (measured is null ? device.RelativeSpeed : 1.0);
            var times = measured ?? profile.ReferenceNodeMs;
            var prefix = new double[NodeCount + 1];
            for (var i = 0; i < NodeCount; i++) prefix[i + 1] = prefix[i] + (times[i] * scale);
            ComputePrefixMs[d] = prefix;
            MemoryBudget[d] = device.MemoryBudgetBytes;
            ActiveJoulesPerMs[d] = device.Power.ActiveWatts / 1000.0;
            SendJoulesPerByte[d] = device.Power.SendJoulesPerByte;
            ReceiveJoulesPerByte[d] = device.Power.ReceiveJoulesPerByte;
        }
        MemoryPrefix = new long[NodeCount + 1];
        for (var i = 0; i < NodeCount; i++) MemoryPrefix[i + 1] = MemoryPrefix[i] + profile.NodeMemoryBytes[i];
        MsPerByte = new double[DeviceCount * DeviceCount];
        RttMs = new double[DeviceCount * DeviceCount];
        HasLink = new bool[DeviceCount * DeviceCount];
        for (var a = 0; a < DeviceCount; a++)
        {
            for (var b = 0; b < DeviceCount; b++)
            {
                var link = a == b ? null : state.Link(Names[a], Names[b]);
                if (link is null) continue;
                var factor = linkFactors.GetValueOrDefault((Names[a], Names[b]), 1.0);
                HasLink[(a * DeviceCount) + b] = true;
                MsPerByte[(a * DeviceCount) + b] = link.BytesPerSecond > 0 ? 1000.0 / link.BytesPerSecond * factor : double.PositiveInfinity;
                RttMs[(a * DeviceCount) + b] = link.RttMs * factor;
            }
        }
        CutBytes = [.. profile.CutBytes];
        InputBytes = profile.InputBytes;
        OutputBytes = profile.OutputBytes;
    }

    public double ComputeMs(int device, int first, int last) => ComputePrefixMs[device][last + 1] - ComputePrefixMs[device][first];

    public long MemoryBytes(int first, int last) => MemoryPrefix[last + 1] - MemoryPrefix[first];

    public double TransferMs(int from, int to, long bytes)
    {
        if (from == to) return 0;
        var ix = (from * DeviceCount) + to;
        if (!HasLink[ix]) return double.PositiveInfinity;
        return bytes == 0 ? RttMs[ix] : (bytes * MsPerByte[ix]) + RttMs[ix];
    }

    public double TransferJoules(int from, int to, long bytes) =>
        from == to ? 0 : bytes * (SendJoulesPerByte[from] + ReceiveJoulesPerByte[to]);

    public Plan ToPlan(IReadOnlyList<(int Device, int First, int Last)> stages) =>
        new(0, [.. stages.Select(s => new Stage(Names[s.Device], s.First, s.Last))]);
}
