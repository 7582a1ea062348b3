using EdgeSplit.Reports;
using EdgeSplit.Runtime;

namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>Nearest-rank percentiles in milliseconds, as the Python side computes them (null when nothing finished).</summary>
public sealed record PyTorchLatency(int Count, double? P50, double? P95, double? P99, double? Mean, double? Max)
{
    public LatencyStats ToLatencyStats() =>
        new(Count, P50 ?? double.NaN, P95 ?? double.NaN, P99 ?? double.NaN, Mean ?? double.NaN);
}

/// <summary>What was copied from the ONNX file: modules matched by position, tensors, parameters, and pairs that also share a name.</summary>
public sealed record PyTorchWeightCopy(int Modules, int Tensors, long Parameters, int NamesAgree);

/// <summary>
/// A process's use over the timed frames: CPU seconds (user + system, all threads), bytes written and
/// read through system calls (<c>/proc/PID/io</c> wchar and rchar: its TCP traffic with TensorPipe's
/// framing, plus any log line), and resident memory at the end.
/// </summary>
public sealed record PyTorchProcessUse(double CpuSeconds, long BytesWritten, long BytesRead, double RssMb);

/// <summary>One RPC worker over the timed frames. <see cref="Device"/> is filled in from the placement.</summary>
public sealed record PyTorchWorkerStats(
    string Name, int Stage, IReadOnlyList<string> Units, int Threads, double LoadSeconds,
    double CpuSeconds, long BytesWritten, long BytesRead, double RssMb, PyTorchLatency ComputeMs)
{
    public string Device { get; init; } = "";
}

/// <summary>
/// One hop of a frame: <see cref="PayloadBytes"/> is what TensorPipe is handed for it (torch's RPC
/// pickle of the call plus its tensors' raw bytes), measured on the first frame.
/// </summary>
public sealed record PyTorchHop(string From, string To, long? PayloadBytes);

/// <summary>The outputs of one frame, by ONNX output name; <see cref="SourceFrame"/> is its index in the frames file.</summary>
public sealed record PyTorchFrameOutput(int Frame, int SourceFrame, IReadOnlyDictionary<string, float[]> Values);

/// <summary>
/// The result of one PyTorch RPC run (the JSON the driver prints), in the units its names say; <c>Blas</c>
/// is the BLAS library torch loaded in the driver.
/// </summary>
public sealed record PyTorchRpcResult(
    string Runtime, string Torch, string Torchvision, string? Blas, string Model, string Onnx, PyTorchWeightCopy Weights,
    IReadOnlyList<int> Cuts, string Mode, string Route, int InFlight, double Fps, bool ClosedLoop, double DeadlineMs,
    int Frames, int Completed, int Failed, int Warmup, double DurationSeconds, double AchievedFps,
    PyTorchLatency LatencyMs, int DeadlineMisses, IReadOnlyList<PyTorchLatency> StageComputeMs,
    IReadOnlyList<PyTorchWorkerStats> Workers, PyTorchProcessUse Driver, IReadOnlyList<PyTorchHop> Hops,
    IReadOnlyList<double[]> Samples, IReadOnlyList<PyTorchFrameOutput> Outputs, IReadOnlyList<string> Errors)
{
    /// <summary>Frames the camera dropped because the pipeline was full (<c>--drop-when-full</c>); they count as deadline misses.</summary>
    public int Dropped { get; init; }

    /// <summary>Each finished frame's latency and when it was due (or sent, closed loop), for the report's plots.</summary>
    public IReadOnlyList<LatencySample> LatencySamples => [.. Samples.Select(s => new LatencySample(s[0], s[1]))];

    /// <summary>Mean CPU of each worker's device over the run, as a percentage of one core (memory: the worker's RSS).</summary>
    public IReadOnlyList<DeviceUsage> DeviceUsage =>
        [.. Workers.Select(w => new DeviceUsage(w.Device, 100 * w.CpuSeconds / Math.Max(DurationSeconds, 1e-9), w.RssMb))];
}

/// <summary>Where the baseline wrote the tensor the chain carries across a cut.</summary>
public sealed record PyTorchCutTensor(int Index, string Tensor, IReadOnlyList<long> Shape, string Path, IReadOnlyList<string> SideOutputs);

/// <summary>The single-device baseline's result (the JSON <c>single</c> prints).</summary>
public sealed record PyTorchSingleResult(
    string Runtime, string Torch, string Torchvision, string? Blas, string Model, string Onnx, PyTorchWeightCopy Weights, int Threads,
    int Frames, int Warmup, PyTorchLatency LatencyMs, double CpuSeconds, IReadOnlyList<int> Top5, IReadOnlyList<float> Top5Scores,
    IReadOnlyList<PyTorchFrameOutput> Outputs, IReadOnlyList<PyTorchCutTensor>? CutTensors);

/// <summary>One EdgeSplit cut and its torchvision module boundary (null, with <see cref="Reason"/>, when it has none).</summary>
public sealed record PyTorchCutEquivalent(int Index, string After, IReadOnlyList<string> Tensors, int? Boundary, string? Unit, string? Reason);

/// <summary>Every cut of a zoo model mapped to torchvision's chain of modules (<see cref="Units"/>).</summary>
public sealed record PyTorchCutMap(string Model, IReadOnlyList<string> Units, IReadOnlyList<PyTorchCutEquivalent> Cuts)
{
    /// <summary>The cuts PyTorch can split at.</summary>
    public IReadOnlyList<int> Usable => [.. Cuts.Where(c => c.Boundary is not null).Select(c => c.Index)];
}
