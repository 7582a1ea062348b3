using System.CommandLine;
using System.Globalization;
using EdgeSplit.Evaluation;
using EdgeSplit.Graph;

namespace EdgeSplit.Cli.Commands;

/// <summary>
/// The workload options bench and demo share: an open-loop camera by default (<c>--fps</c>, <c>--frame-deadline-ms</c>,
/// <c>--max-in-flight</c>), or the closed-loop client with <c>--closed-loop N</c>.
/// </summary>
internal sealed class WorkloadOptions
{
    public Option<double> Fps { get; } = new("--fps")
    {
        Description = "Frames per second the camera captures, open loop (whether or not earlier frames are answered).",
        DefaultValueFactory = _ => FrameWorkload.DefaultFps,
    };

    public Option<double> FrameDeadlineMs { get; } = new("--frame-deadline-ms")
    {
        Description = "Milliseconds after its capture a frame's result is due; a later one is a deadline miss (default 200: an interactive camera pipeline's budget).",
        DefaultValueFactory = _ => FrameWorkload.DefaultDeadline.TotalMilliseconds,
    };

    public Option<int?> MaxInFlight { get; } = new("--max-in-flight")
    {
        Description = "Frames in the pipeline at once; a frame captured while it is full is dropped (default: the frames captured within one deadline).",
    };

    public Option<int?> ClosedLoop { get; } = new("--closed-loop")
    {
        Description = "Instead of the camera, a closed-loop client with N requests in flight (each sent when the one before it is answered).",
    };

    public IEnumerable<Option> All => [Fps, FrameDeadlineMs, MaxInFlight, ClosedLoop];

    /// <summary>
    /// The camera workload, or null with the closed loop's requests in flight; bad values end as one error line.
    /// <paramref name="giveUp"/> is when an unanswered frame counts as failed.
    /// </summary>
    public (FrameWorkload? Camera, int Concurrency) Parse(ParseResult parse, TimeSpan giveUp)
    {
        if (parse.GetValue(ClosedLoop) is { } inFlight)
        {
            if (inFlight is < 1 or > 64) throw new BadInputException($"--closed-loop must be between 1 and 64 requests in flight, got {inFlight}");
            return (null, inFlight);
        }
        var fps = parse.GetValue(Fps);
        if (!(fps is >= 0.1 and <= 1000)) throw new BadInputException($"--fps must be between 0.1 and 1000, got {fps.ToString(CultureInfo.InvariantCulture)}");
        var deadlineMs = parse.GetValue(FrameDeadlineMs);
        if (!(deadlineMs is >= 1 and <= 60_000)) throw new BadInputException($"--frame-deadline-ms must be between 1 and 60000, got {deadlineMs.ToString(CultureInfo.InvariantCulture)}");
        var deadline = TimeSpan.FromMilliseconds(deadlineMs);
        var bound = parse.GetValue(MaxInFlight) ?? FrameWorkload.InFlightFor(fps, deadline);
        if (bound is < 1 or > 1024) throw new BadInputException($"--max-in-flight must be between 1 and 1024, got {bound}");
        if (giveUp < deadline) throw new BadInputException($"a frame is given up after {giveUp.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s, before its {deadlineMs.ToString(CultureInfo.InvariantCulture)} ms deadline; raise the give-up time");
        return (new FrameWorkload(fps, deadline, bound, giveUp), 1);
    }
}
