namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>Frames in the pipeline at once: one (each frame through every stage before the next) or several.</summary>
public enum PyTorchSchedule
{
    Sequential,
    Pipelined,
}

/// <summary>How a frame moves between stages.</summary>
public enum PyTorchRoute
{
    /// <summary>Each worker forwards its output straight to the next worker, as EdgeSplit's agents do.</summary>
    Chain,

    /// <summary>Each stage's output returns to the driver, which sends it on: ParetoPipe's pipeline manager.</summary>
    ViaDriver,
}

/// <summary>One RPC worker: the device it runs on, its torch threads (the device's cores) and the interface TensorPipe listens on.</summary>
public sealed record PyTorchWorkerPlacement(string Device, int Threads, string Interface = "lo");

/// <summary>
/// One run of a zoo model split over PyTorch RPC: <see cref="Cuts"/> are EdgeSplit cut indices (each must
/// fall on a torchvision module boundary, see <see cref="PyTorchCutMap"/>), <see cref="Workers"/> one per
/// stage in stage order. Frames come at <see cref="FramesPerSecond"/> (open loop; 0 closes the loop), each
/// with <see cref="Deadline"/>; <see cref="FramesFile"/> is raw float32 whole frames (see
/// <see cref="PyTorchFrames"/>), else seeded random ones.
/// </summary>
public sealed record PyTorchRpcOptions(string ModelPath, IReadOnlyList<int> Cuts, IReadOnlyList<PyTorchWorkerPlacement> Workers)
{
    public PyTorchSchedule Schedule { get; init; } = PyTorchSchedule.Sequential;

    /// <summary>Frames in flight when pipelined; ParetoPipe keeps 4.</summary>
    public int InFlight { get; init; } = 4;

    public PyTorchRoute Route { get; init; } = PyTorchRoute.Chain;

    public double FramesPerSecond { get; init; }

    public TimeSpan Deadline { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Open loop: a frame due while <see cref="InFlight"/> are in the pipeline is dropped (EdgeSplit's camera) instead of waiting.</summary>
    public bool DropWhenFull { get; init; }

    /// <summary>Timed frames.</summary>
    public int Frames { get; init; } = 50;

    /// <summary>Untimed frames first, one at a time.</summary>
    public int Warmup { get; init; } = 5;

    public string? FramesFile { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>The first this many frames' outputs come back whole, to compare with EdgeSplit's.</summary>
    public int OutputsKept { get; init; } = 3;

    /// <summary>The device the driver (the frame source) runs on; on a testbed, the source device.</summary>
    public string DriverDevice { get; init; } = "driver";

    public string DriverInterface { get; init; } = "lo";

    /// <summary>The driver's rendezvous address, reachable from every worker.</summary>
    public string RendezvousAddress { get; init; } = "127.0.0.1";

    /// <summary>0 picks a free loopback port.</summary>
    public int RendezvousPort { get; init; }

    /// <summary>The whole run, process starts included.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// An emulated device per stage, as EdgeSplit's agents emulate theirs: host wall seconds per CPU second of the
    /// stage's compute (dilation included). Empty: every stage runs at the host's speed.
    /// </summary>
    public IReadOnlyList<double> Slowdowns { get; init; } = [];

    /// <summary>
    /// Emulated links' one-way latency (host milliseconds, dilation included), added by the receiver as EdgeSplit's
    /// agents add it by the sender: into each stage, then from the last back to the driver (stages + 1 values). Empty: none.
    /// </summary>
    public IReadOnlyList<double> HopDelaysMs { get; init; } = [];
}

/// <summary>The single-device baseline: the whole model in one process on <see cref="Device"/>.</summary>
public sealed record PyTorchSingleOptions(string ModelPath, int Threads)
{
    public string Device { get; init; } = "local";

    public int Frames { get; init; } = 20;

    public int Warmup { get; init; } = 2;

    public string? FramesFile { get; init; }

    public int Seed { get; init; } = 1;

    public int OutputsKept { get; init; } = 1;

    /// <summary>Cuts whose carried tensor (frame 0) is written to <see cref="DumpDirectory"/> as <c>cut-K.f32</c>.</summary>
    public IReadOnlyList<int> DumpCuts { get; init; } = [];

    public string? DumpDirectory { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);
}
