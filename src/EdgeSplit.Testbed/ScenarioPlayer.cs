using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Graph;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed;

/// <summary>Something the player did, for logs and for plots that mark scenario events.</summary>
public sealed record PlayedEvent(TimeSpan At, string Description);

/// <summary>
/// Plays a scenario against a running testbed: link changes through tc and the senders' latency files,
/// CPU load and memory hogs as processes inside the device's namespace and cgroups, kill and revive of
/// the device's process.
/// </summary>
public static class ScenarioPlayer
{
    /// <param name="load">Builds the command of a load process: <c>edgesplit testbed load --cpu-threads N --memory-mb M --seconds S</c>.</param>
    /// <param name="testbed">The running testbed.</param>
    /// <param name="scenario">The trace to play.</param>
    /// <param name="onEvent">Called after each event is applied.</param>
    /// <param name="cancel">Stops the scenario early.</param>
    public static async Task<IReadOnlyList<PlayedEvent>> PlayAsync(
        RunningTestbed testbed,
        Scenario scenario,
        Func<int, int, TimeSpan, ProcessLaunch> load,
        Action<PlayedEvent> onEvent,
        CancellationToken cancel)
    {
        foreach (var device in scenario.Devices)
        {
            if (testbed.State.Devices.All(d => d.Name != device))
            {
                throw new BadInputException($"scenario '{scenario.Name}' names device '{device}', which testbed '{testbed.State.Name}' does not have ({string.Join(", ", testbed.State.Devices.Select(d => d.Name))})");
            }
        }
        var played = new List<PlayedEvent>();
        var loads = new List<Process>();
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (var e in scenario.Events)
            {
                var wait = e.At - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancel);
                }
                string what;
                switch (e)
                {
                    case SetLinkEvent s:
                        testbed.SetLink(s.A, s.B, s.BandwidthMbps, s.LatencyMs);
                        var l = testbed.State.Link(s.A, s.B)!;
                        what = $"link {s.A}-{s.B}: {l.BandwidthMbps.ToString(CultureInfo.InvariantCulture)} Mbit/s, {l.LatencyMs.ToString(CultureInfo.InvariantCulture)} ms";
                        break;
                    case CpuLoadEvent c:
                        loads.Add(testbed.StartInDevice(c.Device, load(c.Threads, 0, c.Duration)));
                        what = $"cpu load on {c.Device}: {c.Threads} busy thread(s) for {c.Duration.TotalSeconds} s";
                        break;
                    case TakeMemoryEvent m:
                        loads.Add(testbed.StartInDevice(m.Device, load(0, m.Megabytes, m.Duration)));
                        what = $"memory taken on {m.Device}: {m.Megabytes} MB for {m.Duration.TotalSeconds} s";
                        break;
                    case KillDeviceEvent k:
                        testbed.Kill(k.Device);
                        what = $"killed {k.Device}";
                        break;
                    case ReviveDeviceEvent r:
                        testbed.Revive(r.Device);
                        what = $"revived {r.Device}";
                        break;
                    default:
                        throw new InvalidOperationException($"unknown event {e}");
                }
                var p = new PlayedEvent(clock.Elapsed, what);
                played.Add(p);
                onEvent(p);
            }
            var rest = scenario.Duration - clock.Elapsed;
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest, cancel);
            }
            return played;
        }
        finally
        {
            // Loads end by themselves; on Ctrl-C end them now (they are ours, started above).
            foreach (var process in loads)
            {
                try
                {
                    if (!process.HasExited)
                    {
                        process.Kill();
                    }
                }
                catch (InvalidOperationException)
                {
                }
                process.Dispose();
            }
        }
    }
}

/// <summary>The body of <c>edgesplit testbed load</c>: busy threads and/or touched memory for a while.</summary>
public static class LoadGenerator
{
    public static void Run(int cpuThreads, int memoryMb, TimeSpan duration, CancellationToken cancel)
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
        var threads = Enumerable.Range(0, cpuThreads).Select(_ => new Thread(() =>
        {
            while (end.Elapsed < duration && !cancel.IsCancellationRequested)
            {
                ReferenceWorkload.Run(1, 1);
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
}
