using EdgeSplit.Reports;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Evaluation;

/// <summary>
/// One evaluation: models x strategies on one testbed through one scenario. <see cref="Duration"/> null
/// plays the scenario at its own pace; otherwise its timeline is compressed (or stretched) to fit.
/// With a <see cref="Workload"/> a camera sends frames open loop; without, a closed-loop client keeps Concurrency
/// requests in flight. RequestDeadline is when a request (or frame) unanswered is given up as failed.
/// </summary>
public sealed record Experiment(
    IReadOnlyList<string> Models,
    TestbedSpec Testbed,
    Scenario Scenario,
    IReadOnlyList<Strategy> Strategies,
    string Objective = "latency",
    TimeSpan? Duration = null,
    int Seed = 42,
    int Concurrency = 2,
    TimeSpan? RequestDeadline = null,
    string Title = "EdgeSplit bench")
{
    /// <summary>
    /// Relative CPU speeds the planners are told instead of the profiles' (a miscalibrated profile): the devices
    /// are still emulated at their profile's speed, so only the planners' belief is wrong.
    /// </summary>
    public IReadOnlyDictionary<string, double> BelievedSpeeds { get; init; } = new Dictionary<string, double>();

    /// <summary>
    /// An open-loop camera (frames at a fixed rate, each with a deadline) on the emulated devices' clock; null runs
    /// the closed-loop client (<see cref="Concurrency"/> requests in flight, each due within <see cref="Deadline"/>).
    /// </summary>
    public FrameWorkload? Workload { get; init; }

    /// <summary>
    /// What every planner of this experiment minimises: <paramref name="objective"/>, and with a camera its frame interval on
    /// the testbed's clock (dilated like the deadline), so a plan that cannot keep up with the frames ranks last.
    /// </summary>
    internal EdgeSplit.Planning.Objective PlanningObjective(EdgeSplit.Planning.Objective objective, EdgeSplit.Testbed.TimeDilation dilation) =>
        Workload is { } frames ? objective with { FrameIntervalMs = dilation.Stretch(frames.Interval).TotalMilliseconds } : objective;

    /// <summary>Whether the cost model corrects itself from observed stage and hop times.</summary>
    public bool CostCorrection { get; init; } = true;

    /// <summary>A live dashboard that shows each strategy's coordinator while it serves (null: none).</summary>
    public Cluster.Dashboard.DashboardFeed? Dashboard { get; init; }

    /// <summary>Run on the in-process emulation even where the namespace testbed could run (as root).</summary>
    public bool ForceInProcess { get; init; }

    /// <summary>The testbed file, for the namespace testbed's state (defaults to the testbed's name).</summary>
    public string? TestbedFile { get; init; }

    public TimeSpan Deadline => RequestDeadline ?? TimeSpan.FromSeconds(5);

    /// <summary>Run seconds per scenario second.</summary>
    public double TimeScale
    {
        get
        {
            if (Duration is not { } d) return 1;
            return Scenario.Duration > TimeSpan.Zero ? d / Scenario.Duration : 1;
        }
    }

    /// <summary>How long each strategy runs on the emulated devices' clock (a dilated testbed takes longer on the host's).</summary>
    public TimeSpan RunDuration => Duration ?? (Scenario.Duration > TimeSpan.Zero ? Scenario.Duration : TimeSpan.FromSeconds(30));
}

/// <summary>What one device looks like at one moment of a run, for a live view (figures emulated).</summary>
public sealed record DeviceFrame(string Name, bool Alive, double CpuPercent, double MemoryMb, double LinkFromSourceMbps);

/// <summary>One stage of the plan in force: which nodes run on which device.</summary>
public sealed record StageFrame(string Device, int FirstNode, int LastNode);

/// <summary>A moment of a run for progress bars and the demo's live view; times on the emulated devices' clock.</summary>
public sealed record LiveFrame(
    string Model,
    Strategy Strategy,
    int RunIndex,
    int RunCount,
    double ElapsedS,
    double DurationS,
    IReadOnlyList<DeviceFrame> Devices,
    IReadOnlyList<StageFrame> Plan,
    int NodeCount,
    double RollingP50Ms,
    int Completed,
    int Failed,
    int Repartitions,
    string Phase);
