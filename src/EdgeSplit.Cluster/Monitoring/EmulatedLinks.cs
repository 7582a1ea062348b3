using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeSplit.Cluster.Monitoring;

/// <summary>One emulated link as seen from the sending device.</summary>
public sealed record EmulatedLink(
    [property: JsonPropertyName("peer")] string Peer,
    [property: JsonPropertyName("addresses")] IReadOnlyList<string> Addresses,
    [property: JsonPropertyName("latency_ms")] double LatencyMs,
    [property: JsonPropertyName("bandwidth_mbps")] double BandwidthMbps,
    [property: JsonPropertyName("shaped_by_kernel")] bool ShapedByKernel);

/// <summary>The file the testbed writes for each device; see <see cref="EmulatedLinks"/>.</summary>
public sealed record EmulatedLinksFile(
    [property: JsonPropertyName("device")] string Device,
    [property: JsonPropertyName("cpu_slowdown")] double? CpuSlowdown,
    [property: JsonPropertyName("links")] IReadOnlyList<EmulatedLink> Links)
{
    /// <summary>Share of the device's compute unit other jobs take now (0..1): what the agent reports as its CPU load.</summary>
    [JsonPropertyName("cpu_load")]
    public double? CpuLoad { get; init; }

    /// <summary>
    /// How many times slower than the emulated device the testbed runs (time dilation; null or 1 = real time).
    /// The latencies and slowdown above already include it; an agent process also stretches its own timeouts by it.
    /// </summary>
    [JsonPropertyName("time_dilation")]
    public double? TimeDilation { get; init; }
}

/// <summary>
/// What an agent on an emulated device must do itself because the kernel cannot. This kernel has
/// no <c>netem</c>, so one-way latency is added by the sender: call <see cref="BeforeSendAsync"/>
/// before each transfer to a peer. Without root (loopback fallback) bandwidth is also paced here.
/// The device's compute speed is emulated by <see cref="AfterComputeAsync"/> (a CPU quota cannot slow
/// a burst shorter than its period). The testbed passes the file's
/// path in the <c>EDGESPLIT_EMULATED_LINKS</c> environment variable and rewrites it when a scenario
/// changes a link; the file is re-read when it changes. On a real device there is no file and
/// every call returns at once.
/// </summary>
public sealed class EmulatedLinks
{
    public const string EnvironmentVariable = "EDGESPLIT_EMULATED_LINKS";

    private readonly string path;
    private readonly TimeProvider time;
    private readonly object gate = new();
    private EmulatedLinksFile current;
    private DateTime lastWrite;
    private long lastCheck;

    private EmulatedLinks(string path, TimeProvider time)
    {
        this.path = path;
        this.time = time;
        current = Read(path);
        lastWrite = File.GetLastWriteTimeUtc(path);
        lastCheck = time.GetTimestamp();
    }

    /// <summary>How often the file is looked at again for changes.</summary>
    public TimeSpan RecheckEvery { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The emulation for this process, or null on a real device (variable unset).</summary>
    public static EmulatedLinks? FromEnvironment() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } path ? Open(path) : null;

    /// <summary>The emulation in <paramref name="path"/>; its delays and re-checks run on <paramref name="time"/> (default: the system clock).</summary>
    public static EmulatedLinks Open(string path, TimeProvider? time = null) => new(path, time ?? TimeProvider.System);

    public static void Write(string path, EmulatedLinksFile file)
    {
        // Write then rename, so a reader never sees half a file.
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(file));
        File.Move(temp, path, overwrite: true);
    }

    public EmulatedLinksFile Current
    {
        get
        {
            lock (gate)
            {
                if (time.GetElapsedTime(lastCheck) >= RecheckEvery)
                {
                    lastCheck = time.GetTimestamp();
                    var write = File.GetLastWriteTimeUtc(path);
                    if (write != lastWrite)
                    {
                        try
                        {
                            current = Read(path);
                            lastWrite = write;
                        }
                        catch (Exception ex) when (ex is IOException or JsonException)
                        {
                            // A half-replaced file: keep the last good one and look again next time.
                        }
                    }
                }
                return current;
            }
        }
    }

    /// <summary>The link to a peer named by device name, host or host:port; null if not emulated.</summary>
    public EmulatedLink? Find(string peer)
    {
        var host = peer;
        if (Uri.TryCreate(peer, UriKind.Absolute, out var uri))
        {
            host = uri.Host;
            peer = $"{uri.Host}:{uri.Port}";
        }
        foreach (var link in Current.Links)
        {
            if (link.Peer == peer || link.Addresses.Contains(peer) || link.Addresses.Contains(host))
            {
                return link;
            }
        }
        return null;
    }

    /// <summary>Waits the link's one-way latency (and, when not shaped by the kernel, the time the bytes would take).</summary>
    public Task BeforeSendAsync(string peer, long bytes, CancellationToken cancel)
    {
        if (Find(peer) is not { } link)
        {
            return Task.CompletedTask;
        }
        var ms = link.LatencyMs;
        if (!link.ShapedByKernel && link.BandwidthMbps > 0)
        {
            ms += bytes * 8 / (link.BandwidthMbps * 1e6) * 1000;
        }
        return DelayAsync(TimeSpan.FromMilliseconds(ms), cancel);
    }

    /// <summary>
    /// Stretches a compute to the emulated device's speed: it ends <paramref name="cpuTime"/> x slowdown after
    /// it started (<paramref name="elapsed"/> ago). CPU time, not wall time, is what is stretched, so other
    /// tenants of a busy host are not multiplied into the device's speed; a compute the kernel already
    /// slowed past that (a quota shared with a scenario's load) is not stretched further.
    /// </summary>
    public Task AfterComputeAsync(TimeSpan elapsed, TimeSpan cpuTime, CancellationToken cancel)
    {
        var wait = (cpuTime * (Current.CpuSlowdown ?? 1)) - elapsed;
        if (time != TimeProvider.System)
        {
            return wait <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(wait, time, cancel);
        }
        // Called on the thread that ran the compute, which waits for it anyway: a thread sleep wakes far closer
        // to its time than a timer continuation on a busy host.
        PreciseSleep(Stopwatch.GetTimestamp() + Ticks(wait), cancel);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Waits <paramref name="delay"/> on the emulation's clock. On the system clock it ends within ~0.1 ms: a
    /// timer until 3 ms before, then a thread sleep and a spin. Task.Delay alone overshot by 3-5 ms on a busy
    /// host (measured), which on a 2 ms Wi-Fi hop or a 13 ms Jetson compute is most of the figure. An injected
    /// clock (a test's) gets a plain timer on that clock, which only it advances.
    /// </summary>
    private async Task DelayAsync(TimeSpan delay, CancellationToken cancel)
    {
        if (delay <= TimeSpan.Zero)
        {
            return;
        }
        if (time != TimeProvider.System)
        {
            await Task.Delay(delay, time, cancel);
            return;
        }
        var until = Stopwatch.GetTimestamp() + Ticks(delay);
        if (delay > TimeSpan.FromMilliseconds(4))
        {
            await Task.Delay(delay - TimeSpan.FromMilliseconds(3), cancel);
        }
        PreciseSleep(until, cancel);
    }

    private static void PreciseSleep(long untilTimestamp, CancellationToken cancel)
    {
        while (Stopwatch.GetTimestamp() < untilTimestamp)
        {
            cancel.ThrowIfCancellationRequested();
            var leftMs = (untilTimestamp - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency;
            if (leftMs > 1.5)
            {
                Thread.Sleep(TimeSpan.FromMilliseconds(leftMs - 1));
            }
            else
            {
                Thread.SpinWait(50);
            }
        }
    }

    private static long Ticks(TimeSpan span) => span <= TimeSpan.Zero ? 0 : (long)(span.TotalSeconds * Stopwatch.Frequency);

    private static EmulatedLinksFile Read(string path) =>
        JsonSerializer.Deserialize<EmulatedLinksFile>(File.ReadAllText(path)) ?? throw new JsonException($"{path} is empty");
}
