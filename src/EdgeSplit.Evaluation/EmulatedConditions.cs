using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Planning;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Evaluation;

/// <summary>
/// The conditions a scenario imposes on a testbed at each moment of a (possibly time-compressed) run:
/// link bandwidth and latency, CPU taken by load, memory taken, devices killed. The single source of
/// truth for the link files agents pace by, the planners' view and the oracle's windows.
/// </summary>
public sealed class EmulatedConditions(TestbedSpec testbed, Scenario scenario, double timeScale)
{
    public TestbedSpec Testbed { get; } = testbed;

    public Scenario Scenario { get; } = scenario;

    /// <summary>Run seconds per scenario second (0.25 = the scenario plays four times faster).</summary>
    public double TimeScale { get; } = timeScale > 0 ? timeScale : throw new ArgumentOutOfRangeException(nameof(timeScale));

    public TimeSpan RunDuration => Scenario.Duration * TimeScale;

    /// <summary>This host's speed relative to the reference device (node times are measured here).</summary>
    public double HostRelativeSpeed => Testbed.HostRelativeCpuSpeed ?? 1.0;

    /// <summary>When an event takes effect on the run's clock.</summary>
    public TimeSpan RunTimeOf(TimeSpan scenarioTime) => scenarioTime * TimeScale;

    /// <summary>The state of every device and link at <paramref name="runTime"/>.</summary>
    public Snapshot At(TimeSpan runTime)
    {
        var scenarioTime = runTime / TimeScale;
        var links = Testbed.Links.ToDictionary(l => Key(l.A, l.B), l => (l.BandwidthMbps, l.LatencyMs));
        var cpuTaken = Testbed.Devices.ToDictionary(d => d.Name, _ => 0.0);
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
                    cpuTaken[c.Device] += (double)c.Threads / Testbed.Device(c.Device).Profile.Cores;
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
            // Load threads beyond the cores leave a sliver, never nothing: the scheduler still gives the agent a share.
            Math.Clamp(1 - cpuTaken[d.Name], 0.1, 1),
            Math.Max(0, d.Profile.MemoryMb - memoryTakenMb[d.Name]),
            !dead.Contains(d.Name))).ToList();
        var linkConditions = Testbed.Links.Select(l =>
        {
            var (mbps, latencyMs) = links[Key(l.A, l.B)];
            // A link is no faster than either end's network interface.
            var capped = Math.Min(mbps, Math.Min(Testbed.Device(l.A).Profile.Network.BandwidthMbps, Testbed.Device(l.B).Profile.Network.BandwidthMbps));
            return new LinkCondition(l.A, l.B, capped, latencyMs);
        }).ToList();
        return new Snapshot(runTime, devices, linkConditions);
    }

    /// <summary>Run times at which conditions change (event starts and the ends of timed loads), 0 first.</summary>
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
    /// The described state of a testbed before any scenario event (all CPU free, memory from the profiles,
    /// links both ways capped by both devices' interfaces): what <c>plan</c> and <c>serve --testbed</c> plan from.
    /// </summary>
    public static PlanningState DescribedState(TestbedSpec testbed, SegmentProfile profile)
    {
        var conditions = new EmulatedConditions(testbed, new Scenario("described", TimeSpan.Zero, []), 1);
        return conditions.StateOf(conditions.At(TimeSpan.Zero), profile).Validate();
    }

    /// <summary>The planners' view of a snapshot: live devices only, speeds relative to this host, links both ways.</summary>
    public PlanningState StateOf(Snapshot snapshot, SegmentProfile profile, IReadOnlySet<string>? alsoAlive = null)
    {
        var live = snapshot.Devices.Where(d => d.Alive && (alsoAlive is null || alsoAlive.Contains(d.Name))).ToList();
        var devices = live.Select(d =>
        {
            var p = Testbed.Device(d.Name).Profile;
            return new DeviceSpec(d.Name, p.RelativeCpuSpeed / HostRelativeSpeed, d.CpuAvailability, (long)(d.MemoryAvailableMb * (1 << 20)),
                new DevicePowerModel(p.IdlePowerW, p.PeakPowerW, p.Network.EnergyPerByteNj * 1e-9, p.Network.EnergyPerByteNj * 1e-9));
        }).ToList();
        var names = devices.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        var links = new List<LinkSpec>();
        foreach (var l in snapshot.Links.Where(l => names.Contains(l.A) && names.Contains(l.B)))
        {
            links.Add(new LinkSpec(l.A, l.B, l.BandwidthMbps * 125_000, 2 * l.LatencyMs));
            links.Add(new LinkSpec(l.B, l.A, l.BandwidthMbps * 125_000, 2 * l.LatencyMs));
        }
        return new PlanningState(devices, links, profile, Testbed.Source, snapshot.RunTime);
    }

    /// <summary>The oracle's truth: one window per stretch of constant conditions.</summary>
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

    /// <summary>
    /// What the agent on <paramref name="device"/> must emulate: the CPU slowdown of its profile (and of the
    /// load on it) relative to this host, and latency plus pacing on each of its links.
    /// </summary>
    public EmulatedLinksFile LinksFileFor(Snapshot snapshot, string device)
    {
        var condition = snapshot.Devices.First(d => d.Name == device);
        var profile = Testbed.Device(device).Profile;
        var slowdown = Math.Max(1, HostRelativeSpeed / profile.RelativeCpuSpeed) / condition.CpuAvailability;
        var links = snapshot.Links
            .Where(l => l.A == device || l.B == device)
            .Select(l => new EmulatedLink(l.A == device ? l.B : l.A, [], l.LatencyMs, l.BandwidthMbps, ShapedByKernel: false))
            .ToList();
        return new EmulatedLinksFile(device, slowdown, links);
    }

    /// <summary>The scenario's events on the run's clock, described for the report.</summary>
    public IReadOnlyList<Reports.ScenarioEvent> ReportEvents() =>
        [.. Scenario.Events.Select(e => new Reports.ScenarioEvent(RunTimeOf(e.At).TotalSeconds, Describe(e)))];

    public static string Describe(Testbed.Config.ScenarioEvent e) => e switch
    {
        SetLinkEvent s => $"link {s.A}-{s.B}" + (s.BandwidthMbps is { } b ? $" {b:0.##} Mbit/s" : "") + (s.LatencyMs is { } l ? $" {l:0.##} ms" : ""),
        CpuLoadEvent c => $"{c.Threads} load threads on {c.Device} for {c.Duration.TotalSeconds:0.#} s",
        TakeMemoryEvent m => $"{m.Megabytes} MB taken on {m.Device} for {m.Duration.TotalSeconds:0.#} s",
        KillDeviceEvent k => $"{k.Device} killed",
        ReviveDeviceEvent r => $"{r.Device} revived",
        _ => e.ToString(),
    };

    private static (string, string) Key(string a, string b) => string.CompareOrdinal(a, b) <= 0 ? (a, b) : (b, a);
}

/// <summary>One device's emulated condition: share of CPU left to the agent, memory left, whether it runs.</summary>
public sealed record DeviceCondition(string Name, double CpuAvailability, double MemoryAvailableMb, bool Alive);

/// <summary>One link's emulated condition (symmetric; latency one way).</summary>
public sealed record LinkCondition(string A, string B, double BandwidthMbps, double LatencyMs);

/// <summary>All conditions at one moment of a run.</summary>
public sealed record Snapshot(TimeSpan RunTime, IReadOnlyList<DeviceCondition> Devices, IReadOnlyList<LinkCondition> Links);
