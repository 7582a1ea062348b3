using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using EdgeSplit.Cluster.Monitoring;
using Microsoft.Extensions.Time.Testing;

namespace EdgeSplit.Cluster.Tests.Monitoring;

/// <summary>Runs alone: it compares this process's CPU and loopback traffic with a load it makes itself.</summary>
[CollectionDefinition(nameof(MonitorCollection), DisableParallelization = true)]
public sealed class MonitorCollection;

[Collection(nameof(MonitorCollection))]
public sealed class ResourceMonitorTests
{
    [Fact]
    public void Process_cpu_matches_a_busy_loop_of_known_duty_cycle()
    {
        var monitor = new ResourceMonitor();
        // Warm up the JIT on the loop before measuring, so compilation is not counted.
        RunDutyCycle(TimeSpan.FromMilliseconds(300), 0.5);
        var processBefore = Process.GetCurrentProcess().TotalProcessorTime;
        monitor.Sample();
        var busyCpu = RunDutyCycle(TimeSpan.FromSeconds(2), 0.5);
        var snapshot = monitor.Sample();
        var processCpu = Process.GetCurrentProcess().TotalProcessorTime - processBefore;
        var cpuSeconds = snapshot.ProcessCpuCores * snapshot.Interval.TotalSeconds;
        // The loop's CPU is the known load and must all be seen. The runtime's background JIT thread
        // adds up to ~0.15 s in this window, so the upper bound is getrusage, read another way.
        Assert.True(cpuSeconds >= busyCpu.TotalSeconds * 0.9, $"monitor saw {cpuSeconds:0.000} s, the loop alone used {busyCpu.TotalSeconds:0.000} s");
        Assert.InRange(cpuSeconds, processCpu.TotalSeconds * 0.9, (processCpu.TotalSeconds * 1.1) + 0.02);
        // The host is at least as busy as this process (other tenants only add to it).
        Assert.True(snapshot.CpuUtilisation * snapshot.CoreUtilisation.Count >= snapshot.ProcessCpuCores * 0.8,
            $"host {snapshot.CpuUtilisation:P0} of {snapshot.CoreUtilisation.Count} cores < process {snapshot.ProcessCpuCores:0.00} cores");
        Assert.Equal(Environment.ProcessorCount, snapshot.CoreUtilisation.Count);
    }

    [Fact]
    public async Task Loopback_traffic_matches_a_known_transfer()
    {
        const int bytes = 64 * 1024 * 1024;
        var monitor = new ResourceMonitor();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptTcpClientAsync();
        var receive = Task.Run(async () =>
        {
            var buffer = new byte[1 << 20];
            long total = 0;
            var stream = server.GetStream();
            while (total < bytes)
            {
                var n = await stream.ReadAsync(buffer);
                Assert.True(n > 0);
                total += n;
            }
        });
        var before = monitor.Sample().Interfaces.Single(i => i.Name == "lo");
        var chunk = new byte[1 << 20];
        for (var sent = 0; sent < bytes; sent += chunk.Length)
        {
            await client.GetStream().WriteAsync(chunk);
        }
        await receive;
        var after = monitor.Sample().Interfaces.Single(i => i.Name == "lo");
        // On loopback every byte sent is also received; headers add ~0.1% at a 64 KiB MTU, other
        // processes' loopback traffic adds a little more.
        var delta = after.SentBytes - before.SentBytes;
        Assert.InRange(delta, bytes, bytes * 1.1);
        Assert.True(after.SentBytesPerSecond > 0);
    }

    [Fact]
    public void Memory_and_rss_are_plausible_and_cgroup_files_are_found_when_present()
    {
        var snapshot = new ResourceMonitor().Sample();
        Assert.InRange(snapshot.MemoryAvailableBytes, 1, snapshot.MemoryTotalBytes);
        Assert.InRange(snapshot.ProcessRssBytes, 1 << 20, snapshot.MemoryTotalBytes);
        var (limit, _) = ResourceMonitor.FindCgroupMemoryFiles("/proc/self/cgroup", "/sys/fs/cgroup");
        if (limit is not null)
        {
            Assert.True(File.Exists(limit));
        }
    }

    [Fact]
    public async Task Background_sampling_raises_one_snapshot_per_interval_of_its_clock()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var monitor = new ResourceMonitor(new ResourceMonitorOptions { Interval = TimeSpan.FromMilliseconds(50), TimeProvider = clock });
        var samples = System.Threading.Channels.Channel.CreateUnbounded<ResourceSnapshot>();
        monitor.Sampled += s => samples.Writer.TryWrite(s);
        monitor.Start();
        for (var i = 1; i <= 3; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(50));
            var sample = await samples.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            // The interval of each sample is the period the clock moved, not wall time.
            Assert.Equal(TimeSpan.FromMilliseconds(50), sample.Interval);
        }
        Assert.False(samples.Reader.TryRead(out _));
    }

    /// <summary>What one sample costs in CPU is a speed figure: <c>bench/EdgeSplit.Bench.Monitoring</c> measures and prints it.</summary>
    [Fact]
    public void Sampling_allocates_little_per_sample()
    {
        var monitor = new ResourceMonitor();
        for (var i = 0; i < 5; i++)
        {
            monitor.Sample();
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            monitor.Sample();
        }
        var perSampleBytes = (GC.GetAllocatedBytesForCurrentThread() - allocated) / 100;
        // A handful of small records and interface names per sample; nothing proportional to file sizes.
        Assert.InRange(perSampleBytes, 0, 16 * 1024);
    }

    /// <summary>
    /// In every 10 ms period, spins until this thread has used duty x 10 ms of CPU, then sleeps the rest,
    /// so the load is known in CPU time even when other tenants preempt us. Returns the CPU spent spinning.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static TimeSpan RunDutyCycle(TimeSpan total, double duty)
    {
        var period = TimeSpan.FromMilliseconds(10);
        var start = Stopwatch.GetTimestamp();
        var cpuStart = ThreadCpu();
        while (Stopwatch.GetElapsedTime(start) < total)
        {
            var periodStart = Stopwatch.GetTimestamp();
            var periodCpu = ThreadCpu();
            while (ThreadCpu() - periodCpu < period * duty)
            {
            }
            var rest = period - Stopwatch.GetElapsedTime(periodStart);
            if (rest > TimeSpan.Zero)
            {
                Thread.Sleep(rest);
            }
        }
        return ThreadCpu() - cpuStart;
    }

    private static TimeSpan ThreadCpu() => ThreadCpuClock.Now();
}
