using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace EdgeSplit.Testbed;

/// <summary>
/// The fixed CPU loop EdgeSplit measures speed with: xorshift64 rounds in registers, no memory
/// traffic, no allocation, so it measures a core and not the caches or the allocator.
/// One unit is one million rounds. Relative speed 1.0 is <see cref="ReferenceUnitsPerSecond"/>.
/// </summary>
public static class ReferenceWorkload
{
    /// <summary>
    /// Units per second of one core at relative speed 1.0 (the laptop profile, Core i5-8250U).
    /// Not measured on that laptop: set from this project's development host (an AMD EPYC VM core
    /// measuring ~610 units per CPU-second), assumed 1.2x the laptop's core from public single-core scores.
    /// Run <c>edgesplit testbed calibrate</c> on real hardware to replace estimates with measurements.
    /// </summary>
    public const double ReferenceUnitsPerSecond = 500;

    private const long RoundsPerUnit = 1_000_000;

    /// <summary>
    /// Runs <paramref name="units"/> on each of <paramref name="threads"/> threads. Returns the wall time
    /// until all finish and the CPU time of the slowest thread, which is what the run would take on an
    /// idle host: other tenants' load stretches the wall time but not the CPU time.
    /// </summary>
    public static (TimeSpan Wall, TimeSpan Cpu) Run(int threads, double units)
    {
        var rounds = (long)(units * RoundsPerUnit);
        var cpu = new TimeSpan[threads];
        var start = Stopwatch.GetTimestamp();
        if (threads == 1)
        {
            cpu[0] = Timed(rounds);
        }
        else
        {
            var workers = Enumerable.Range(0, threads).Select(i => new Thread(() => cpu[i] = Timed(rounds))).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => w.Join());
        }
        return (Stopwatch.GetElapsedTime(start), cpu.Max());
    }

    /// <summary>
    /// Speed of one core of this host relative to the reference, from the CPU time (not the wall time)
    /// of a few short single-thread runs, so a busy host still measures its core's speed.
    /// </summary>
    public static double MeasureRelativeSpeed(int runs = 3, double unitsPerRun = 50)
    {
        Run(1, unitsPerRun / 10);
        var best = Enumerable.Range(0, runs).Min(_ => Run(1, unitsPerRun).Cpu);
        return unitsPerRun / best.TotalSeconds / ReferenceUnitsPerSecond;
    }

    /// <summary>
    /// Child-process protocol for <c>edgesplit testbed workload</c>: print "ready", then for each
    /// "go" line run once and print "WALL_MS CPU_MS"; stop at end of input. The parent moves the
    /// process into a cgroup between runs, so startup never runs constrained.
    /// </summary>
    public static void Serve(int threads, double units, TextReader input, TextWriter output)
    {
        Run(threads, units / 20);
        output.WriteLine("ready");
        output.Flush();
        while (input.ReadLine() is { } line && line.Trim() == "go")
        {
            var (wall, cpu) = Run(threads, units);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{wall.TotalMilliseconds:0.###} {cpu.TotalMilliseconds:0.###}"));
            output.Flush();
        }
    }

    private static TimeSpan Timed(long rounds)
    {
        var before = ThreadCpuTime();
        Sink(Spin(rounds));
        return ThreadCpuTime() - before;
    }

    private static TimeSpan ThreadCpuTime() => EdgeSplit.Cluster.Monitoring.ThreadCpuClock.Now();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ulong Spin(long rounds)
    {
        var x = 88172645463325252UL;
        for (var i = 0L; i < rounds; i++)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        return x;
    }

    private static ulong sink;

    private static void Sink(ulong value) => Interlocked.Exchange(ref sink, value);
}
