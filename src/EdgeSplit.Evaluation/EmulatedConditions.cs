using EdgeSplit.Planning;
using EdgeSplit.Testbed;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Evaluation;

/// <summary>
/// The conditions a scenario imposes on a testbed at each moment of a run: link bandwidth and latency, the
/// share of each device's compute unit other jobs take, memory taken, devices killed. What the planners of
/// the fixed strategies and the oracle are told (the backend applies the same events to the devices). The
/// run's clock is the host's: scenario times are compressed by <see cref="TimeScale"/> and stretched by
/// the testbed's time dilation.
/// </summary>
public sealed class EmulatedConditions(TestbedEmulation emulation, Scenario scenario, double timeScale)
{
    public TestbedEmulation Emulation { get; } = emulation;

    public TestbedSpec Testbed => Emulation.Spec;

    public Scenario Scenario { get; } = scenario;

    /// <summary>Emulated seconds per scenario second (0.25 = the scenario plays four times faster); dilation aside.</summary>
    public double TimeScale { get; } = timeScale > 0 ? timeScale : throw new ArgumentOutOfRangeException(nameof(timeScale));

    /// <summary>Host seconds per scenario second: the compression and the dilation together.</summary>
    public double HostScale => TimeScale * Emulation.Dilation.Factor;

    /// <summary>How long the scenario lasts on the host's clock.</summary>
    public TimeSpan RunDuration => Scenario.Duration * HostScale;

    /// <summary>When an event takes effect on the host's clock.</summary>
    public TimeSpan RunTimeOf(TimeSpan scenarioTime) => scenarioTime * HostScale;

    /// <summary>The state of every device and link at <paramref name="runTime"/> (host clock).</summary>
    public Snapshot At(TimeSpan runTime)
    {
        var scenarioTime = runTime / HostScale;
        var links = Testbed.Links.ToDictionary(l => Key(l.A, l.B), l => (l.BandwidthMbps, l.LatencyMs));
        var jobs = Testbed.Devices.ToDictionary(d => d.Name, _ => 0);
        var memoryTakenMb = Testbed.Devices.ToDictionary(d => d.Name, _ => 0.0);
        var dead = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in Scenario.Events.Where(e => e.At <= scenarioTime))
        {
            switch (e)
            {
                case SetLinkEvent s when links.TryGetValue(Key(s.A, s.B), out var link):
                    links[Key(s.A, s.B)] = (s.BandwidthMbps ?? link.BandwidthMbps, s.LatencyMs ?? link.LatencyMs);
                    break;
                case CpuLoadEvent c when scenarioTime < c.At + c.Duration:
                    jobs[c.Device] += c.Threads;
                    break;
                case TakeMemoryEvent m when scenarioTime < m.At + m.Duration:
                    memoryTakenMb[m.Device] += m.Megabytes;
                    break;
                case KillDeviceEvent k:
                    dead.Add(k.Device);
                    break;
                case ReviveDeviceEvent r:
                    dead.Remove(r.Device);
                    break;
            }
        }
        var devices = Testbed.Devices.Select(d => new DeviceCondition(
            d.Name,
            d.Unit.AvailabilityUnder(jobs[d.Name]),
            Math.Max(0, d.Profile.MemoryMb - memoryTakenMb[d.Name]),
            !dead.Contains(d.Name))).ToList();
        var linkConditions = Testbed.Links.Select(l =>
        {
            var (mbps, latencyMs) = links[Key(l.A, l.B)];
            return new LinkCondition(l.A, l.B, mbps, latencyMs);
        }).ToList();
        return new Snapshot(runTime, devices, linkConditions);
    }

    /// <summary>Host times at which conditions change (event starts and the ends of timed loads), 0 first.</summary>
    public IReadOnlyList<TimeSpan> ChangePoints()
    {
        var points = new SortedSet<TimeSpan> { TimeSpan.Zero };
        foreach (var e in Scenario.Events)
        {
            points.Add(RunTimeOf(e.At));
            switch (e)
            {
                case CpuLoadEvent c:
                    points.Add(RunTimeOf(c.At + c.Duration));
                    break;
                case TakeMemoryEvent m:
                    points.Add(RunTimeOf(m.At + m.Duration));
                    break;
            }
        }
        return [.. points.Where(p => p <= RunDuration)];
    }

    /// <summary>
    /// The described state of a testbed before any scenario event (all devices up, none of their units taken,
    /// memory from the profiles, links both ways as configured), in the emulation's (dilated) units: what
    /// <c>plan</c> and <c>serve --testbed</c> plan from.
    /// </summary>
    public static PlanningState DescribedState(TestbedEmulation emulation, SegmentProfile profile)
    {
        var conditions = new EmulatedConditions(emulation, new Scenario("described", TimeSpan.Zero, []), 1);
        return conditions.StateOf(conditions.At(TimeSpan.Zero), profile).Validate();
    }

    /// <summary>The planners' view of a snapshot: live devices only, speeds relative to this host, links both ways, on the dilated clock.</summary>
    public PlanningState StateOf(Snapshot snapshot, SegmentProfile profile)
    {
        var live = snapshot.Devices.Where(d => d.Alive).ToList();
        var devices = live.Select(d => Emulation.DeviceSpec(d.Name, d.CpuAvailability, d.MemoryAvailableMb)).ToList();
        var names = devices.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        var links = snapshot.Links.Where(l => names.Contains(l.A) && names.Contains(l.B))
            .SelectMany(l => Emulation.LinkSpecs(l.A, l.B, l.BandwidthMbps, l.LatencyMs)).ToList();
        return new PlanningState(devices, links, profile, Testbed.Source, snapshot.RunTime);
    }

    /// <summary>The oracle's truth: one window per stretch of constant conditions, on the host's clock.</summary>
    public IReadOnlyList<ConditionWindow> Windows(SegmentProfile profile)
    {
        var points = ChangePoints();
        var windows = new List<ConditionWindow>();
        for (var i = 0; i < points.Count; i++)
        {
            var end = i + 1 < points.Count ? points[i + 1] : TimeSpan.MaxValue;
            windows.Add(new ConditionWindow(points[i], end, StateOf(At(points[i]), profile)));
        }
        return windows;
    }

    /// <summary>The scenario's events on the emulated clock (compressed, not dilated), described for the report.</summary>
    public IReadOnlyList<Reports.ScenarioEvent> ReportEvents() =>
        [.. Scenario.Events.Select(e => new Reports.ScenarioEvent((e.At * TimeScale).TotalSeconds, Describe(e)))];

    public static string Describe(Testbed.Config.ScenarioEvent e) => e switch
    {
        SetLinkEvent s => $"link {s.A}-{s.B}" + (s.BandwidthMbps is { } b ? $" {b:0.##} Mbit/s" : "") + (s.LatencyMs is { } l ? $" {l:0.##} ms" : ""),
        CpuLoadEvent c => $"{c.Threads} load job(s) on {c.Device} for {c.Duration.TotalSeconds:0.#} s",
        TakeMemoryEvent m => $"{m.Megabytes} MB taken on {m.Device} for {m.Duration.TotalSeconds:0.#} s",
        KillDeviceEvent k => $"{k.Device} killed",
        ReviveDeviceEvent r => $"{r.Device} revived",
        _ => e.ToString(),
    };

    private static (string, string) Key(string a, string b) => string.CompareOrdinal(a, b) <= 0 ? (a, b) : (b, a);
}

/// <summary>One device's emulated condition: share of its compute unit left to the agent, memory left, whether it runs.</summary>
public sealed record DeviceCondition(string Name, double CpuAvailability, double MemoryAvailableMb, bool Alive);

/// <summary>One link's emulated condition (symmetric; latency one way; configured units).</summary>
public sealed record LinkCondition(string A, string B, double BandwidthMbps, double LatencyMs);

/// <summary>All conditions at one moment of a run (host clock).</summary>
public sealed record Snapshot(TimeSpan RunTime, IReadOnlyList<DeviceCondition> Devices, IReadOnlyList<LinkCondition> Links);
