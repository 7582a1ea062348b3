using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace EdgeSplit.Testbed;

/// <summary>
/// The body of <c>edgesplit testbed load</c>: busy threads and/or touched memory for a while. The threads
/// use <c>cores</c> host cores in all: each spins a 2 ms slice of CPU time, then sleeps so that its share
/// of the host is what the job would take of the emulated device, not a whole host core.
/// </summary>
public static class LoadGenerator
{
    private static readonly TimeSpan Slice = TimeSpan.FromMilliseconds(2);

    public static void Run(int cpuThreads, double cores, int memoryMb, TimeSpan duration, CancellationToken cancel)
    {
        var blocks = new List<byte[]>();
        for (var i = 0; i < memoryMb; i++)
        {
            var block = new byte[1024 * 1024];
            // Touch every page so the memory is really resident (and charged to the cgroup).
            for (var j = 0; j < block.Length; j += 4096)
            {
                block[j] = 1;
            }
            blocks.Add(block);
        }
        var end = Stopwatch.StartNew();
        var perThread = cpuThreads > 0 ? Math.Clamp(cores / cpuThreads, 1e-4, 1) : 0;
        var threads = Enumerable.Range(0, cpuThreads).Select(_ => new Thread(() =>
        {
            while (end.Elapsed < duration && !cancel.IsCancellationRequested)
            {
                var started = Cluster.Monitoring.ThreadCpuClock.Now();
                while (Cluster.Monitoring.ThreadCpuClock.Now() - started < Slice)
                {
                    Spin(20_000);
                }
                if (perThread < 1)
                {
                    Thread.Sleep(Slice * ((1 / perThread) - 1));
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        while (end.Elapsed < duration && !cancel.IsCancellationRequested)
        {
            Thread.Sleep(50);
        }
        threads.ForEach(t => t.Join());
        GC.KeepAlive(blocks);
    }

    /// <summary>xorshift rounds in registers: CPU only, no memory traffic.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
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
}
