using System.Globalization;
using EdgeSplit.Graph;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed.Backends;

/// <summary>Something the player did, at host time <see cref="At"/> after the scenario started, for logs and plots.</summary>
public sealed record PlayedEvent(TimeSpan At, string Description);

/// <summary>
/// Plays a scenario against any testbed backend: link changes, loads that start and end, kills and
/// revives, each at its scenario time multiplied by <c>scale</c> (a compressed timeline and the time
/// dilation together), on an injected clock. Loads still running when it ends (or is cancelled) end too.
/// </summary>
public static class ScenarioPlayer
{
    /// <param name="backend">The testbed to drive.</param>
    /// <param name="scenario">The trace to play.</param>
    /// <param name="scale">Host seconds per scenario second (dilation included).</param>
    /// <param name="onEvent">Called after each action.</param>
    /// <param name="time">The clock (tests pass a fake one).</param>
    /// <param name="playFor">How long to play, in host time; default the scenario's duration x scale. Later events are skipped.</param>
    /// <param name="cancel">Stops the scenario early.</param>
    public static async Task<IReadOnlyList<PlayedEvent>> PlayAsync(
        ITestbedBackend backend,
        Scenario scenario,
        double scale,
        Action<PlayedEvent>? onEvent,
        TimeProvider time,
        TimeSpan? playFor,
        CancellationToken cancel)
    {
        var spec = backend.Emulation.Spec;
        foreach (var device in scenario.Devices.Where(d => spec.Devices.All(x => x.Name != d)))
        {
            throw new BadInputException($"scenario '{scenario.Name}' names device '{device}', which testbed '{spec.Name}' does not have ({string.Join(", ", spec.Devices.Select(d => d.Name))})");
        }
        var end = playFor ?? scenario.Duration * scale;
        var actions = Timeline(backend, scenario, scale).Where(a => a.At <= end).OrderBy(a => a.At).ThenBy(a => a.Order).ToList();
        var played = new List<PlayedEvent>();
        var loads = new Dictionary<int, IDisposable>();
        var started = time.GetTimestamp();
        try
        {
            foreach (var action in actions)
            {
                var wait = action.At - time.GetElapsedTime(started);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, time, cancel);
                }
                var description = await action.Apply(loads, cancel);
                var p = new PlayedEvent(time.GetElapsedTime(started), description);
                played.Add(p);
                onEvent?.Invoke(p);
            }
            var rest = end - time.GetElapsedTime(started);
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest, time, cancel);
            }
            return played;
        }
        finally
        {
            foreach (var load in loads.Values)
            {
                load.Dispose();
            }
        }
    }

    private sealed record TimedAction(TimeSpan At, int Order, Func<Dictionary<int, IDisposable>, CancellationToken, Task<string>> Apply);

    /// <summary>Every event's start, and the end of every load, on the host clock.</summary>
    private static IEnumerable<TimedAction> Timeline(ITestbedBackend backend, Scenario scenario, double scale)
    {
        static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        var index = 0;
        foreach (var e in scenario.Events)
        {
            var id = index++;
            var at = e.At * scale;
            switch (e)
            {
                case SetLinkEvent s:
                    yield return new TimedAction(at, id, async (_, ct) =>
                    {
                        await backend.SetLinkAsync(s.A, s.B, s.BandwidthMbps, s.LatencyMs, ct);
                        var now = backend.Sample().Links.First(l => (l.A == s.A && l.B == s.B) || (l.A == s.B && l.B == s.A));
                        return $"link {s.A}-{s.B}: {F(now.BandwidthMbps)} Mbit/s, {F(now.LatencyMs)} ms";
                    });
                    break;
                case CpuLoadEvent c:
                    yield return new TimedAction(at, id, async (loads, ct) =>
                    {
                        loads[id] = await backend.TakeCpuAsync(c.Device, c.Threads, (c.Duration * scale) + TimeSpan.FromSeconds(30), ct);
                        return $"cpu load on {c.Device}: {c.Threads} busy job(s) for {F(c.Duration.TotalSeconds)} s";
                    });
                    yield return EndOfLoad(id, at + (c.Duration * scale), $"cpu load on {c.Device} ends");
                    break;
                case TakeMemoryEvent m:
                    yield return new TimedAction(at, id, async (loads, ct) =>
                    {
                        loads[id] = await backend.TakeMemoryAsync(m.Device, m.Megabytes, (m.Duration * scale) + TimeSpan.FromSeconds(30), ct);
                        return $"memory taken on {m.Device}: {m.Megabytes} MB for {F(m.Duration.TotalSeconds)} s";
                    });
                    yield return EndOfLoad(id, at + (m.Duration * scale), $"memory on {m.Device} given back");
                    break;
                case KillDeviceEvent k:
                    yield return new TimedAction(at, id, async (_, ct) =>
                    {
                        await backend.KillAsync(k.Device, ct);
                        return $"killed {k.Device}";
                    });
                    break;
                case ReviveDeviceEvent r:
                    yield return new TimedAction(at, id, async (_, ct) =>
                    {
                        await backend.ReviveAsync(r.Device, ct);
                        return $"revived {r.Device}";
                    });
                    break;
                default:
                    throw new InvalidOperationException($"unknown event {e}");
            }
        }
    }

    private static TimedAction EndOfLoad(int id, TimeSpan at, string description) => new(at, -1, (loads, _) =>
    {
        if (loads.Remove(id, out var load))
        {
            load.Dispose();
        }
        return Task.FromResult(description);
    });
}
