namespace EdgeSplit.Planning;

/// <summary>
/// How a device draws power, for energy estimates (figures derived from it are "estimated").
/// Compute energy is the power above idle while a stage runs; radio energy is charged per byte.
/// </summary>
public sealed record DevicePowerModel(double IdleWatts, double PeakWatts, double SendJoulesPerByte, double ReceiveJoulesPerByte)
{
    /// <summary>Power the device draws above idle while it computes.</summary>
    public double ActiveWatts => Math.Max(0, PeakWatts - IdleWatts);

    public static DevicePowerModel None { get; } = new(0, 0, 0, 0);
}

/// <summary>
/// One device as the planner sees it. <paramref name="RelativeSpeed"/> divides reference compute
/// times (2 = twice as fast as the reference device); <paramref name="CpuAvailability"/> in (0, 1]
/// is the share of its CPU that is free now, so compute stretches by 1 / availability.
/// </summary>
public sealed record DeviceSpec(string Name, double RelativeSpeed, double CpuAvailability, long MemoryBudgetBytes, DevicePowerModel Power)
{
    public DeviceSpec Validate()
    {
        if (string.IsNullOrWhiteSpace(Name)) throw new ArgumentException("device name is empty");
        if (!(RelativeSpeed > 0) || double.IsInfinity(RelativeSpeed)) throw new ArgumentException($"device {Name}: relative speed must be > 0, got {RelativeSpeed}");
        if (!(CpuAvailability > 0 && CpuAvailability <= 1)) throw new ArgumentException($"device {Name}: CPU availability must be in (0, 1], got {CpuAvailability}");
        if (MemoryBudgetBytes < 0) throw new ArgumentException($"device {Name}: memory budget must be >= 0");
        return this;
    }
}

/// <summary>A directed network link between two devices (ordered: <paramref name="From"/> sends).</summary>
public sealed record LinkSpec(string From, string To, double BytesPerSecond, double RttMs);

/// <summary>
/// Per-node costs of one model, the planner's view of it. Node i costs
/// <see cref="ReferenceNodeMs"/>[i] on the reference device (relative speed 1), unless
/// <see cref="DeviceNodeMs"/> holds measured times for a device, which then win. Memory of a
/// segment is the sum over its nodes of weights + activations (conservative: every activation
/// counted as if alive at once). <see cref="CutBytes"/>[i] crosses cut i (between node i and i+1).
/// With <see cref="Tiling"/>, the optimal planner also considers tile groups at the start.
/// </summary>
public sealed record SegmentProfile(
    IReadOnlyList<double> ReferenceNodeMs,
    IReadOnlyList<long> NodeMemoryBytes,
    IReadOnlyList<long> CutBytes,
    long InputBytes,
    long OutputBytes,
    IReadOnlyDictionary<string, IReadOnlyList<double>>? DeviceNodeMs = null,
    TilingProfile? Tiling = null)
{
    public int NodeCount => ReferenceNodeMs.Count;

    /// <summary>A copy in which <paramref name="device"/> uses node times measured on it (e.g. <see cref="NodeTimingProfile.NodeMs"/>).</summary>
    public SegmentProfile WithDeviceTimes(string device, IReadOnlyList<double> nodeMs)
    {
        if (nodeMs.Count != NodeCount) throw new ArgumentException($"{nodeMs.Count} node times for a model of {NodeCount} nodes", nameof(nodeMs));
        var times = DeviceNodeMs is null ? [] : new Dictionary<string, IReadOnlyList<double>>(DeviceNodeMs);
        times[device] = nodeMs;
        return this with { DeviceNodeMs = times };
    }

    public SegmentProfile Validate()
    {
        var n = ReferenceNodeMs.Count;
        if (n == 0) throw new ArgumentException("profile has no nodes");
        if (NodeMemoryBytes.Count != n) throw new ArgumentException($"profile has {n} node times but {NodeMemoryBytes.Count} memory figures");
        if (CutBytes.Count != n - 1) throw new ArgumentException($"profile with {n} nodes needs {n - 1} cut sizes, got {CutBytes.Count}");
        if (ReferenceNodeMs.Any(t => !(t >= 0) || double.IsInfinity(t))) throw new ArgumentException("node times must be finite and >= 0");
        if (NodeMemoryBytes.Any(m => m < 0) || CutBytes.Any(b => b < 0) || InputBytes < 0 || OutputBytes < 0) throw new ArgumentException("byte counts must be >= 0");
        foreach (var (device, times) in DeviceNodeMs ?? new Dictionary<string, IReadOnlyList<double>>())
        {
            if (times.Count != n) throw new ArgumentException($"device {device} has {times.Count} node times, the model has {n} nodes");
        }
        Tiling?.Validate();
        return this;
    }

    /// <summary>Nodes <paramref name="firstNode"/>.. as a model of their own, whose input is the cut before them.</summary>
    internal SegmentProfile Suffix(int firstNode)
    {
        IReadOnlyList<T> From<T>(IReadOnlyList<T> values, int start) => [.. values.Skip(start)];
        return new SegmentProfile(From(ReferenceNodeMs, firstNode), From(NodeMemoryBytes, firstNode), From(CutBytes, firstNode), CutBytes[firstNode - 1], OutputBytes,
            DeviceNodeMs?.ToDictionary(p => p.Key, p => From(p.Value, firstNode)));
    }
}

/// <summary>
/// Everything a planner decides from: devices, links, the model's profile, the device where
/// requests originate and results return, and the time since the run started (for the oracle).
/// </summary>
public sealed record PlanningState(
    IReadOnlyList<DeviceSpec> Devices,
    IReadOnlyList<LinkSpec> Links,
    SegmentProfile Profile,
    string SourceDevice,
    TimeSpan Elapsed = default)
{
    public DeviceSpec Device(string name) =>
        Devices.FirstOrDefault(d => d.Name == name) ?? throw new ArgumentException($"unknown device '{name}'");

    public LinkSpec? Link(string from, string to) => Links.FirstOrDefault(l => l.From == from && l.To == to);

    /// <summary>Where the input of the first stage comes from, when not the source: a tile group's gatherer, for the stages after it.</summary>
    internal string? EntryDevice { get; init; }

    /// <summary>The stages after a tile group: nodes <paramref name="firstNode"/>.. with their input on <paramref name="entry"/>, results back to the source.</summary>
    internal PlanningState Suffix(int firstNode, string entry) => this with { Profile = Profile.Suffix(firstNode), EntryDevice = entry };

    /// <summary>A copy with one device replaced by <paramref name="change"/>(device).</summary>
    public PlanningState WithDevice(string name, Func<DeviceSpec, DeviceSpec> change) =>
        this with { Devices = [.. Devices.Select(d => d.Name == name ? change(d) : d)] };

    /// <summary>A copy with every link touching <paramref name="device"/> changed.</summary>
    public PlanningState WithLinksOf(string device, Func<LinkSpec, LinkSpec> change) =>
        this with { Links = [.. Links.Select(l => l.From == device || l.To == device ? change(l) : l)] };

    public PlanningState Validate()
    {
        Profile.Validate();
        if (Devices.Count == 0) throw new ArgumentException("no devices");
        if (Devices.Count > 16) throw new ArgumentException($"at most 16 devices are supported, got {Devices.Count}");
        foreach (var d in Devices) d.Validate();
        if (Devices.Select(d => d.Name).Distinct().Count() != Devices.Count) throw new ArgumentException("device names must be unique");
        if (Devices.All(d => d.Name != SourceDevice)) throw new ArgumentException($"source device '{SourceDevice}' is not among the devices");
        foreach (var l in Links)
        {
            if (!(l.BytesPerSecond >= 0) || !(l.RttMs >= 0)) throw new ArgumentException($"link {l.From}->{l.To}: bandwidth and RTT must be >= 0");
        }
        return this;
    }

    /// <summary>Links between every ordered pair of <paramref name="devices"/> with one bandwidth and RTT.</summary>
    public static IReadOnlyList<LinkSpec> FullMesh(IEnumerable<string> devices, double bytesPerSecond, double rttMs)
    {
        var names = devices.ToList();
        return [.. from a in names from b in names where a != b select new LinkSpec(a, b, bytesPerSecond, rttMs)];
    }
}

/// <summary>What a planner minimises.</summary>
public enum ObjectiveKind
{
    /// <summary>End-to-end latency of one request.</summary>
    Latency,
    /// <summary>Estimated energy per inference.</summary>
    Energy,
    /// <summary>Latency + <see cref="Objective.EnergyWeightMsPerJoule"/> x energy.</summary>
    Weighted,
    /// <summary>The slowest pipeline stage (compute or transfer), i.e. maximise pipelined throughput.</summary>
    Throughput,
}

/// <summary>
/// An objective; the weight converts joules into milliseconds for <see cref="ObjectiveKind.Weighted"/>.
/// <see cref="FrameIntervalMs"/> is a camera's: frames come at that interval whether or not earlier ones are answered.
/// </summary>
public sealed record Objective(ObjectiveKind Kind, double EnergyWeightMsPerJoule = 0)
{
    /// <summary>What a plan that cannot keep up with the frames adds to the latency, energy and weighted values: it ranks after every plan that can.</summary>
    public const double SaturatedPenalty = 1e6;

    /// <summary>
    /// The interval between a camera's frames (ms, on the planning clock), or null for requests sent one after another.
    /// A plan whose slowest stage or hop takes longer cannot keep up: its frames queue behind each other until
    /// they are dropped, whatever its latency per frame. So for latency, energy and weighted such a plan is worth
    /// <see cref="SaturatedPenalty"/> plus its slowest stage (of two such plans, the one that answers more frames
    /// wins), and any plan that keeps up beats it.
    /// </summary>
    public double? FrameIntervalMs { get; init; }

    /// <summary>Whether a plan whose slowest stage or hop takes <paramref name="bottleneckMs"/> keeps up with the frames.</summary>
    public bool KeepsUp(double bottleneckMs) => FrameIntervalMs is not { } interval || bottleneckMs <= interval;

    /// <summary>Whether this objective ranks such a plan last: it cannot keep up, and the objective is not throughput (which ranks by the slowest stage anyway).</summary>
    public bool Saturates(double bottleneckMs) => Kind != ObjectiveKind.Throughput && !KeepsUp(bottleneckMs);

    public static Objective Latency { get; } = new(ObjectiveKind.Latency);
    public static Objective Energy { get; } = new(ObjectiveKind.Energy);
    public static Objective Throughput { get; } = new(ObjectiveKind.Throughput);
    public static Objective Weighted(double energyWeightMsPerJoule) => new(ObjectiveKind.Weighted, energyWeightMsPerJoule);

    /// <summary>The figure this objective minimises, from a plan's (or part of a plan's) latency, energy and bottleneck.</summary>
    public double Of(double latencyMs, double energyJ, double bottleneckMs) => Saturates(bottleneckMs)
        ? SaturatedPenalty + bottleneckMs
        : Kind switch
    {
        ObjectiveKind.Latency => latencyMs,
        ObjectiveKind.Energy => energyJ,
        ObjectiveKind.Weighted => latencyMs + (EnergyWeightMsPerJoule * energyJ),
        ObjectiveKind.Throughput => bottleneckMs,
        _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
    };

    /// <summary>Parses latency|energy|throughput|weighted (the CLI spelling).</summary>
    public static Objective Parse(string text, double energyWeightMsPerJoule = 100) => text.Trim().ToLowerInvariant() switch
    {
        "latency" => Latency,
        "energy" => Energy,
        "throughput" => Throughput,
        "weighted" => Weighted(energyWeightMsPerJoule),
        _ => throw new EdgeSplit.Graph.BadInputException($"unknown objective '{text}'; use latency, energy, throughput or weighted"),
    };
}
