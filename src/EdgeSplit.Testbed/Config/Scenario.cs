namespace EdgeSplit.Testbed.Config;

/// <summary>Something that happens to a running testbed at <see cref="At"/> after the scenario starts.</summary>
public abstract record ScenarioEvent(TimeSpan At);

/// <summary>Changes a link's bandwidth and/or one-way latency (null keeps the current value).</summary>
public sealed record SetLinkEvent(TimeSpan At, string A, string B, double? BandwidthMbps, double? LatencyMs) : ScenarioEvent(At);

/// <summary>Starts <see cref="Threads"/> busy threads inside the device's CPU cgroup for <see cref="Duration"/>.</summary>
public sealed record CpuLoadEvent(TimeSpan At, string Device, int Threads, TimeSpan Duration) : ScenarioEvent(At);

/// <summary>Allocates and touches <see cref="Megabytes"/> inside the device's memory cgroup for <see cref="Duration"/>.</summary>
public sealed record TakeMemoryEvent(TimeSpan At, string Device, int Megabytes, TimeSpan Duration) : ScenarioEvent(At);

/// <summary>Kills the device's process (SIGKILL), as a crash or a pulled plug would.</summary>
public sealed record KillDeviceEvent(TimeSpan At, string Device) : ScenarioEvent(At);

/// <summary>Starts a killed device's process again with the same name, address and limits.</summary>
public sealed record ReviveDeviceEvent(TimeSpan At, string Device) : ScenarioEvent(At);

/// <summary>A scenario trace (see examples/scenarios/): timed events played against a running testbed.</summary>
public sealed record Scenario(string Name, TimeSpan Duration, IReadOnlyList<ScenarioEvent> Events)
{
    private static readonly string[] Kinds = ["set_link", "cpu_load", "take_memory", "kill", "revive"];

    /// <summary>Device names the scenario mentions, to check against a testbed before playing.</summary>
    public IEnumerable<string> Devices => Events.SelectMany(e => e switch
    {
        SetLinkEvent s => new[] { s.A, s.B },
        CpuLoadEvent c => [c.Device],
        TakeMemoryEvent m => [m.Device],
        KillDeviceEvent k => [k.Device],
        ReviveDeviceEvent r => [r.Device],
        _ => [],
    }).Distinct();

    public static Scenario Load(string file)
    {
        var map = YamlMap.Load(file, "scenario");
        var name = map.String("name");
        var duration = TimeSpan.FromSeconds(map.Number("duration_s", 0, 86_400));
        var events = new List<ScenarioEvent>();
        foreach (var item in map.ListOfMaps("events", required: false))
        {
            var at = TimeSpan.FromSeconds(item.Number("at_s", 0, 86_400));
            if (at > duration)
            {
                throw item.Error(item.Line, $"event at {at.TotalSeconds} s is after duration_s ({duration.TotalSeconds} s); raise duration_s or move the event");
            }
            var kinds = Kinds.Where(item.Has).ToList();
            if (kinds.Count != 1)
            {
                throw item.Error(item.Line, $"each event needs exactly one of {string.Join(", ", Kinds)} (found {(kinds.Count == 0 ? "none" : string.Join(", ", kinds))})");
            }
            events.Add(kinds[0] switch
            {
                "set_link" => ReadSetLink(item, at),
                "cpu_load" => ReadCpuLoad(item, at),
                "take_memory" => ReadTakeMemory(item, at),
                "kill" => new KillDeviceEvent(at, item.String("kill")),
                _ => new ReviveDeviceEvent(at, item.String("revive")),
            });
            item.RejectUnknownKeys();
        }
        map.RejectUnknownKeys();
        return new Scenario(name, duration, [.. events.OrderBy(e => e.At)]);
    }

    private static SetLinkEvent ReadSetLink(YamlMap item, TimeSpan at)
    {
        var body = item.Map("set_link");
        var e = new SetLinkEvent(at, body.String("a"), body.String("b"),
            body.OptionalNumber("bandwidth_mbps", 0.01, 10_000), body.OptionalNumber("latency_ms", 0, 10_000));
        if (e.BandwidthMbps is null && e.LatencyMs is null)
        {
            throw body.Error(body.Line, "set_link changes nothing; give bandwidth_mbps, latency_ms or both");
        }
        body.RejectUnknownKeys();
        return e;
    }

    private static CpuLoadEvent ReadCpuLoad(YamlMap item, TimeSpan at)
    {
        var body = item.Map("cpu_load");
        var e = new CpuLoadEvent(at, body.String("device"), body.Integer("threads", 1, 64), TimeSpan.FromSeconds(body.Number("duration_s", 0.1, 86_400)));
        body.RejectUnknownKeys();
        return e;
    }

    private static TakeMemoryEvent ReadTakeMemory(YamlMap item, TimeSpan at)
    {
        var body = item.Map("take_memory");
        var e = new TakeMemoryEvent(at, body.String("device"), body.Integer("mb", 1, 1_000_000), TimeSpan.FromSeconds(body.Number("duration_s", 0.1, 86_400)));
        body.RejectUnknownKeys();
        return e;
    }
}
