namespace EdgeSplit.Evaluation;

/// <summary>
/// A camera's workload: frames captured at a fixed rate whether or not earlier ones are answered (open loop),
/// each with a deadline counted from its capture. At most <paramref name="MaxInFlight"/> frames are in the
/// pipeline at once; a frame captured while it is full is dropped, as a camera driver drops frames it has no
/// buffer for. A frame not answered within <paramref name="GiveUpAfter"/> is abandoned and counts as failed.
/// </summary>
/// <param name="Fps">Frames captured per second.</param>
/// <param name="Deadline">How long after its capture a frame's result is still useful.</param>
/// <param name="MaxInFlight">Frames in the pipeline at once (captured, not yet answered).</param>
/// <param name="GiveUpAfter">When an unanswered frame is abandoned (a failure, not a late frame).</param>
public sealed record FrameWorkload(double Fps, TimeSpan Deadline, int MaxInFlight, TimeSpan GiveUpAfter)
{
    /// <summary>The demo's and bench's camera: 15 frames/s, as the proposal's Pi camera streams.</summary>
    public const double DefaultFps = 15;

    /// <summary>
    /// 200 ms from capture: the budget an interactive camera pipeline (tracking, AR, a robot reacting to what it
    /// sees) commonly gives a frame, three frame intervals at 15 fps; later, the result describes a scene that has
    /// moved on. It is a property of the application, not of any planner, and the same for every strategy.
    /// </summary>
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromMilliseconds(200);

    /// <summary>The camera's frame interval.</summary>
    public TimeSpan Interval => TimeSpan.FromSeconds(1 / Fps);

    /// <summary>When frame <paramref name="index"/> is captured, since the camera started: on a fixed grid, to the tick.</summary>
    public TimeSpan CaptureTime(long index) => TimeSpan.FromTicks((long)Math.Round(index * (TimeSpan.TicksPerSecond / Fps)));

    /// <summary>
    /// The default bound on frames in flight: the frames captured within one deadline (3 at 15 fps and 200 ms).
    /// A frame admitted behind more than that many is already late before its turn comes.
    /// </summary>
    public static int InFlightFor(double fps, TimeSpan deadline) => Math.Max(1, (int)Math.Ceiling((fps * deadline.TotalSeconds) - 1e-9));

    /// <summary>The same workload with every time multiplied by <paramref name="factor"/> (a dilated testbed's host clock).</summary>
    public FrameWorkload Stretched(double factor) => this with { Fps = Fps / factor, Deadline = Deadline * factor, GiveUpAfter = GiveUpAfter * factor };
}

/// <summary>What became of one frame.</summary>
public enum FrameFate
{
    OnTime,
    Late,
    Dropped,
    Failed,
}

/// <summary>One frame: when it was captured (since the run started), its latency from capture (NaN unless answered) and its fate.</summary>
public sealed record FrameOutcome(long Index, TimeSpan CapturedAt, double LatencyMs, FrameFate Fate, string? Error = null);

/// <summary>
/// The frames of one run. Deadline misses are the frames whose result was not there by the deadline: dropped,
/// late and failed ones. Achieved fps counts answered frames (on time or late) per second of run.
/// </summary>
public sealed record FrameTally(int Captured, int OnTime, int Late, int Dropped, int Failed, TimeSpan Elapsed)
{
    public int Answered => OnTime + Late;

    public int Missed => Late + Dropped + Failed;

    public double MissPercent => Captured > 0 ? 100.0 * Missed / Captured : 0;

    public double AchievedFps => Elapsed > TimeSpan.Zero ? Answered / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Plays a <see cref="FrameWorkload"/> against an inference call on an injected clock. Capture times are on a
/// fixed grid (start + i x interval), so a slow pipeline never slows the camera, and each frame's latency runs
/// from its capture: time spent waiting for earlier frames counts.
/// </summary>
public sealed class FrameSource(FrameWorkload workload, TimeProvider time)
{
    private int _inFlight;
    private int _captured;

    /// <summary>Frames captured but not yet answered, dropped or given up.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Frames captured so far (each admitted or dropped by the time it counts here).</summary>
    public int Captured => Volatile.Read(ref _captured);

    /// <summary>
    /// Captures frames for <paramref name="duration"/>, sends each admitted one to <paramref name="infer"/>,
    /// reports every frame's outcome as it is decided, and returns once every admitted frame has ended.
    /// </summary>
    public async Task<FrameTally> RunAsync(Func<long, CancellationToken, Task> infer, TimeSpan duration, Action<FrameOutcome> onFrame, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(infer);
        ArgumentNullException.ThrowIfNull(onFrame);
        if (!(workload.Fps > 0) || workload.Deadline <= TimeSpan.Zero || workload.MaxInFlight < 1 || workload.GiveUpAfter <= TimeSpan.Zero)
        {
            throw new ArgumentException("a frame workload needs fps > 0, a positive deadline and give-up time, and at least one frame in flight", nameof(workload));
        }
        var started = time.GetTimestamp();
        var frames = new List<Task>();
        int onTime = 0, late = 0, dropped = 0, failed = 0;
        var gate = new Lock();
        void Decide(FrameOutcome outcome)
        {
            lock (gate)
            {
                switch (outcome.Fate)
                {
                    case FrameFate.OnTime: onTime++; break;
                    case FrameFate.Late: late++; break;
                    case FrameFate.Dropped: dropped++; break;
                    default: failed++; break;
                }
            }
            onFrame(outcome);
        }

        long index = 0;
        for (; ; index++)
        {
            var capturedAt = workload.CaptureTime(index);
            if (capturedAt >= duration || ct.IsCancellationRequested) break;
            var wait = capturedAt - time.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, time, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            if (Interlocked.Increment(ref _inFlight) > workload.MaxInFlight)
            {
                Interlocked.Decrement(ref _inFlight);
                Decide(new FrameOutcome(index, capturedAt, double.NaN, FrameFate.Dropped));
            }
            else
            {
                frames.Add(FrameAsync(index, capturedAt));
            }
            Interlocked.Increment(ref _captured);
        }
        await Task.WhenAll(frames).ConfigureAwait(false);
        int captured;
        lock (gate) captured = onTime + late + dropped + failed;
        // Frames still in flight at the end are answered after it; the camera ran for the duration (or until cancelled).
        var elapsed = ct.IsCancellationRequested ? TimeSpan.FromTicks(Math.Min(duration.Ticks, time.GetElapsedTime(started).Ticks)) : duration;
        return new FrameTally(captured, onTime, late, dropped, failed, elapsed);

        async Task FrameAsync(long frame, TimeSpan capturedAt)
        {
            using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // The give-up time runs on the same clock as the frames, from the frame's capture.
            using var timer = time.CreateTimer(_ => giveUp.Cancel(), null, workload.GiveUpAfter, Timeout.InfiniteTimeSpan);
            try
            {
                await infer(frame, giveUp.Token).ConfigureAwait(false);
                var latency = time.GetElapsedTime(started) - capturedAt;
                Decide(new FrameOutcome(frame, capturedAt, latency.TotalMilliseconds, latency <= workload.Deadline ? FrameFate.OnTime : FrameFate.Late));
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                var reason = giveUp.IsCancellationRequested ? $"not answered within {workload.GiveUpAfter.TotalSeconds:0.###} s" : ex.Message;
                Decide(new FrameOutcome(frame, capturedAt, double.NaN, FrameFate.Failed, reason));
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                // The run itself was cancelled: nothing to count.
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }
}
