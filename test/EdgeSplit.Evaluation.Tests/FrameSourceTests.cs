using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace EdgeSplit.Evaluation.Tests;

/// <summary>
/// The open-loop camera on a fake clock: a stage that serves one frame at a time (a FIFO server on the same clock)
/// stands for the pipeline, so queueing is exact and no test sleeps.
/// </summary>
public class FrameSourceTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);

    /// <summary>One device serving frames one after another, each taking <paramref name="service"/> of the fake clock.</summary>
    private sealed class SerialStage(FakeTimeProvider time, TimeSpan service)
    {
        private readonly Lock _gate = new();
        private readonly DateTimeOffset _start = time.GetUtcNow();
        private TimeSpan _busyUntil = TimeSpan.Zero;
        private readonly List<TimeSpan> _finishes = [];

        /// <summary>Frames this stage has finished by <paramref name="now"/> (since it was made).</summary>
        public int FinishedBy(TimeSpan now)
        {
            lock (_gate) return _finishes.Count(f => f <= now);
        }

        public int MaxConcurrent { get; private set; }

        private int _inside;

        public async Task ServeAsync(long frame, CancellationToken ct)
        {
            TimeSpan finish;
            lock (_gate)
            {
                var now = time.GetUtcNow() - _start;
                finish = (now > _busyUntil ? now : _busyUntil) + service;
                _busyUntil = finish;
                _finishes.Add(finish);
                MaxConcurrent = Math.Max(MaxConcurrent, ++_inside);
            }
            try
            {
                await Task.Delay(finish - (time.GetUtcNow() - _start), time, ct).ConfigureAwait(false);
            }
            finally
            {
                lock (_gate) _inside--;
            }
        }
    }

    /// <summary>
    /// Plays the workload on the fake clock, one millisecond at a time. The awaits of the source continue on the
    /// thread pool, so after each step the test waits (bounded) until everything due by then has happened: every
    /// frame due is captured and every frame <paramref name="answeredBy"/> says is answered by then is decided.
    /// Only then does the clock move on, so each latency is read at the fake instant it ended.
    /// </summary>
    private static async Task<(FrameTally Tally, List<FrameOutcome> Frames)> Run(
        FakeTimeProvider time, FrameWorkload workload, Func<long, CancellationToken, Task> infer, TimeSpan duration, Func<TimeSpan, int> answeredBy)
    {
        var frames = new List<FrameOutcome>();
        var source = new FrameSource(workload, time);
        var start = time.GetUtcNow();
        var run = source.RunAsync(infer, duration, f => { lock (frames) frames.Add(f); }, CancellationToken.None);
        for (var i = 0; !run.IsCompleted && i < 60_000; i++)
        {
            time.Advance(Step);
            // One step of slack: a timer may fire one step after its due instant (delays are whole fake ticks of the provider).
            var now = time.GetUtcNow() - start - Step;
            var due = 0;
            while (workload.CaptureTime(due) <= now && workload.CaptureTime(due) < duration) due++;
            var answered = answeredBy(now);
            var settling = Stopwatch.StartNew();
            while (!run.IsCompleted && (source.Captured < due || Decided(frames) < answered))
            {
                Assert.True(settling.Elapsed < TimeSpan.FromSeconds(30), $"at {now.TotalMilliseconds} ms: {source.Captured} of {due} frames captured, {Decided(frames)} of {answered} answered");
                // Not a sleep for time (the fake clock stands still): it hands the thread to the continuations due.
                await Task.Delay(1);
            }
        }
        var tally = await run.WaitAsync(TimeSpan.FromSeconds(30));
        return (tally, frames.OrderBy(f => f.Index).ToList());
    }

    private static int Decided(List<FrameOutcome> frames)
    {
        lock (frames) return frames.Count(f => f.Fate != FrameFate.Dropped);
    }

    [Fact]
    public async Task A_stage_faster_than_the_frame_interval_answers_every_frame_on_time()
    {
        var time = new FakeTimeProvider();
        var stage = new SerialStage(time, TimeSpan.FromMilliseconds(30));
        var workload = new FrameWorkload(15, TimeSpan.FromMilliseconds(200), 3, TimeSpan.FromSeconds(5));

        var (tally, frames) = await Run(time, workload, stage.ServeAsync, TimeSpan.FromSeconds(3), stage.FinishedBy);

        Assert.Equal(45, tally.Captured);
        Assert.Equal(45, tally.OnTime);
        Assert.Equal(0, tally.Missed);
        // 30 ms of service, give or take the 1 ms steps of the fake clock against the 66.67 ms capture grid.
        Assert.All(frames, f => Assert.InRange(f.LatencyMs, 28.6, 33.4));
        Assert.InRange(tally.AchievedFps, 14.9, 15.1);
        Assert.Equal(1, stage.MaxConcurrent);
    }

    [Fact]
    public async Task A_stage_slower_than_the_frame_interval_shows_queueing_drops_and_deadline_misses()
    {
        var time = new FakeTimeProvider();
        // 100 ms per frame against a 66.7 ms interval: the queue grows until the in-flight bound drops frames.
        var stage = new SerialStage(time, TimeSpan.FromMilliseconds(100));
        var workload = new FrameWorkload(15, TimeSpan.FromMilliseconds(200), 3, TimeSpan.FromSeconds(5));

        var (tally, frames) = await Run(time, workload, stage.ServeAsync, TimeSpan.FromSeconds(3), stage.FinishedBy);

        var answered = frames.Where(f => f.Fate is FrameFate.OnTime or FrameFate.Late).ToList();
        // Latency counts from capture: the first frame waits for nobody, the next ones queue behind it.
        Assert.InRange(answered[0].LatencyMs, 99.9, 103.4);
        Assert.InRange(answered[1].LatencyMs, 131, 137);
        Assert.InRange(answered[2].LatencyMs, 165, 171);
        Assert.Equal(FrameFate.OnTime, answered[0].Fate);
        Assert.True(answered.Max(f => f.LatencyMs) > 200, "no frame queued past its deadline");
        Assert.Equal(45, tally.Captured);
        Assert.True(tally.Dropped > 0, "the in-flight bound dropped nothing");
        Assert.True(tally.Late > 0, "no frame was late");
        Assert.Equal(tally.Dropped + tally.Late + tally.Failed, tally.Missed);
        // Once the pipeline is full every admitted frame waits behind two others (up to 300 ms): nearly all miss.
        Assert.InRange(tally.MissPercent, 60, 99);
        // A 100 ms stage answers at most 10 frames a second, whatever the camera's rate.
        Assert.InRange(tally.AchievedFps, 9, 11.1);
        Assert.All(frames.Where(f => f.Fate == FrameFate.Dropped), f => Assert.True(double.IsNaN(f.LatencyMs)));
    }

    [Fact]
    public async Task A_frame_never_answered_is_given_up_and_counted_failed_with_its_reason()
    {
        var time = new FakeTimeProvider();
        var workload = new FrameWorkload(10, TimeSpan.FromMilliseconds(200), 2, TimeSpan.FromSeconds(1));

        var (tally, frames) = await Run(time, workload, (frame, ct) => frame == 0 ? Task.Delay(Timeout.InfiniteTimeSpan, time, ct) : Task.CompletedTask, TimeSpan.FromSeconds(2),
            now => Math.Min((int)Math.Floor(now / workload.Interval) + 1, 20) - (now <= TimeSpan.FromSeconds(1) ? 1 : 0));

        Assert.Equal(20, tally.Captured);
        Assert.Equal(1, tally.Failed);
        Assert.Equal(19, tally.OnTime);
        Assert.Contains("not answered within 1 s", frames[0].Error, StringComparison.Ordinal);
        Assert.Equal(FrameFate.Failed, frames[0].Fate);
    }
}
