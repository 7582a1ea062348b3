using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Runtime;

namespace EdgeSplit.Cluster.Dashboard;

/// <summary>Turns the coordinator's Status into what the page draws, with the rolling figures computed over its latency window.</summary>
public static class DashboardFrames
{
    /// <summary>The rolling window the page's p50, p95, rate and energy cover.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private const int RecentSwitches = 20;

    /// <summary>A frame for a page with no coordinator to show (between two runs of a bench).</summary>
    public static DashboardFrame Idle(DateTimeOffset now, string? label) =>
        new(0, now.ToUnixTimeMilliseconds(), label, null, null, null, "no coordinator is running now", null, [], [], new DashboardRequests(0, 0, 0, 0),
            new DashboardWindow(Window.TotalSeconds, 0, null, null, 0, null, 0), [], null);

    /// <summary>
    /// The frame for <paramref name="status"/> taken at <paramref name="now"/> (the coordinator's clock), for a page that has
    /// already got <paramref name="sent"/>: the static part comes only with a new coordinator, and only decisions the
    /// page has not seen (it keeps the log; the coordinator keeps only its latest 64).
    /// </summary>
    public static DashboardFrame Build(CoordinatorStatus status, DateTimeOffset now, string? label, long generation, Cursor sent)
    {
        var withLayout = sent.Generation != generation;
        var decisionsSeen = withLayout ? 0 : sent.Decisions;
        var byName = status.Devices.ToDictionary(d => d.Name, StringComparer.Ordinal);
        var devices = status.Agents.Select(a =>
        {
            var d = byName.GetValueOrDefault(a.Name);
            return new DashboardDevice(a.Name, a.Address, a.Alive, a.Name == status.SourceDevice,
                Finite(d?.CpuUtilisation), Finite(d?.CpuAvailability), d?.MemoryAvailableBytes ?? 0, d?.MemoryLimitBytes ?? 0,
                Finite(d?.PowerW), d?.PowerEstimated ?? true, Finite(d?.TemperatureC), d?.Provider ?? "cpu", d?.Queued ?? 0, d?.Executed ?? 0,
                d?.Time is { } t ? Math.Max(0, (now - t).TotalSeconds) : null);
        }).ToList();
        var links = status.Devices.SelectMany(d => d.Links.Select(l => new DashboardLink(d.Name, l.Peer, l.BytesPerSecond > 0 ? l.BytesPerSecond : null, Finite(l.RttMs)))).ToList();
        var layout = withLayout
            ? new DashboardLayout(status.Layers?.Names ?? [], status.Layers?.Ops ?? [], status.Layers?.CutBytes,
                [.. status.ConfiguredLinks.Select(l => new DashboardLink(l.From, l.To, l.BytesPerSecond, l.RttMs))])
            : null;
        var plan = status.Plan is { } p
            ? new DashboardPlan(p.Version, status.Compression.ToString().ToLowerInvariant(), [.. p.Stages.Select(s => new DashboardStage(s.Device, s.FirstNode, s.LastNode))])
            : null;
        var switches = status.Switches.TakeLast(RecentSwitches)
            .Select(s => new DashboardSwitch(s.FromVersion, s.ToVersion, s.Duration.TotalMilliseconds, s.Reason, s.Time.ToUnixTimeMilliseconds())).ToList();
        var adaptation = status.Adaptation is { } a
            ? new DashboardAdaptation(a.Planner, a.Objective, a.CostCorrection, a.Decisions, a.Switches, a.LastDecisionMs, a.MeanDecisionMs,
                [.. a.Recent.Select((r, i) => (Sequence: a.Decisions - a.Recent.Count + i + 1, Record: r)).Where(d => d.Sequence > decisionsSeen)
                    .Select(d => new DashboardDecision(d.Sequence, d.Record.Time.ToUnixTimeMilliseconds(), d.Record.Reason, d.Record.Switched, d.Record.Detail, d.Record.OldPlan,
                        d.Record.Plan, Finite(d.Record.OldValue), Finite(d.Record.NewValue), Finite(d.Record.PredictedGain), d.Record.DecisionMs))])
            : null;
        return new DashboardFrame(generation, now.ToUnixTimeMilliseconds(), label, status.Model, layout, plan, status.Unavailable, status.Degraded,
            devices, links, new DashboardRequests(status.Completed, status.Failed, status.Retried, status.InFlight), Rolling(status.RecentServed, now), switches, adaptation);
    }

    /// <summary>
    /// p50, p95, rate and energy over the requests answered in the last <see cref="Window"/>. The rate divides by the
    /// window, or by the time since the first request when the coordinator has answered for less than that.
    /// </summary>
    internal static DashboardWindow Rolling(IReadOnlyList<ServedSample> served, DateTimeOffset now)
    {
        var from = now - Window;
        var recent = served.Where(s => s.Time > from).ToList();
        var last = served.Count > 0 ? served[^1].Sequence : 0;
        if (recent.Count == 0)
        {
            return new DashboardWindow(Window.TotalSeconds, 0, null, null, 0, null, last);
        }
        var stats = LatencyStats.From([.. recent.Select(s => s.LatencyMs)]);
        var span = served[0].Time > from ? Math.Max(1, (now - served[0].Time).TotalSeconds) : Window.TotalSeconds;
        var energies = recent.Select(s => s.EstimatedEnergyJ).Where(double.IsFinite).ToList();
        return new DashboardWindow(Window.TotalSeconds, recent.Count, stats.P50Ms, stats.P95Ms, recent.Count / span, energies.Count > 0 ? energies.Average() : null, last);
    }

    /// <summary>What a page has got so far: the coordinator it shows and the decisions of it it has seen.</summary>
    public readonly record struct Cursor(long Generation, long Decisions)
    {
        /// <summary>Nothing yet.</summary>
        public static Cursor None => new(-1, 0);

        public Cursor After(DashboardFrame frame) => new(frame.Generation, frame.Adaptation?.Decisions ?? 0);
    }

    private static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? v : null;
}
