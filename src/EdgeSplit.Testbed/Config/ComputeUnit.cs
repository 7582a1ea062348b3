using EdgeSplit.Cluster.Monitoring;

namespace EdgeSplit.Testbed.Config;

/// <summary>
/// One compute unit of a board (its CPU, or its GPU where it has one) as the emulator sees it: the
/// published batch-1 latency of reference models on it (<see cref="ReferenceModels"/>), how many jobs
/// share it fairly (<see cref="Parallelism"/>: its cores for a CPU, 1 for a GPU, which time-slices),
/// and the whole board's power while idle and while this unit runs inference.
/// </summary>
public sealed record ComputeUnit(
    string Name,
    IReadOnlyDictionary<string, double> ReferenceMs,
    int Parallelism,
    double IdlePowerW,
    double ActivePowerW)
{
    /// <summary>Known unit names; anything else is probably a typo.</summary>
    public static readonly IReadOnlyList<string> Kinds = ["cpu", "gpu"];

    /// <summary>
    /// Share of the unit left to inference while <paramref name="competingJobs"/> other busy jobs (threads
    /// on a CPU, processes on a GPU) share it fairly with it: parallelism / (parallelism + jobs), as a
    /// fair scheduler gives a job that could use the whole unit.
    /// </summary>
    public double AvailabilityUnder(int competingJobs) => (double)Parallelism / (Parallelism + Math.Max(0, competingJobs));

    /// <summary>The fallback power model of this unit: idle, active (whole board) and the network's energy per byte.</summary>
    public PowerModel ToPowerModel(NetworkProfile network) => new(IdlePowerW, ActivePowerW, network.EnergyPerByteNj);
}
