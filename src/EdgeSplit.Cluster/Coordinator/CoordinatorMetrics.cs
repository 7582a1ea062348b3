using Prometheus;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>The coordinator's Prometheus gauges, read from its Status at each scrape.</summary>
internal static class CoordinatorMetrics
{
    public static void Register(CollectorRegistry registry, Func<CoordinatorStatus> status)
    {
        var factory = Metrics.WithCustomRegistry(registry);
        var requests = factory.CreateGauge("edgesplit_requests", "Requests by outcome since start.", "outcome");
        var planVersion = factory.CreateGauge("edgesplit_plan_version", "Version of the plan in force.");
        var switches = factory.CreateGauge("edgesplit_plan_switches", "Plan switches since start.");
        var switchMs = factory.CreateGauge("edgesplit_last_switch_ms", "Duration of the latest plan switch (deploy + warm + switch).");
        var decisions = factory.CreateGauge("edgesplit_adaptation_decisions", "Adaptation decisions by reason.", "reason");
        var decisionMs = factory.CreateGauge("edgesplit_adaptation_decision_ms", "Time of the latest adaptation decision.");
        var cpuFree = factory.CreateGauge("edgesplit_device_cpu_available_ratio", "CPU share free for EdgeSplit, per device.", "device");
        var bandwidth = factory.CreateGauge("edgesplit_link_bandwidth_bytes_per_second", "Passively measured bandwidth, per link.", "device", "peer");
        var rtt = factory.CreateGauge("edgesplit_link_rtt_ms", "Smoothed RTT, per link.", "device", "peer");
        registry.AddBeforeCollectCallback(() =>
        {
            var s = status();
            requests.WithLabels("completed").Set(s.Completed);
            requests.WithLabels("failed").Set(s.Failed);
            requests.WithLabels("retried").Set(s.Retried);
            planVersion.Set(s.Plan?.Version ?? 0);
            switches.Set(s.Switches.Count);
            switchMs.Set(s.Switches.Count > 0 ? s.Switches[^1].Duration.TotalMilliseconds : 0);
            foreach (var (reason, count) in s.Adaptation?.Counts ?? new Dictionary<string, long>())
            {
                decisions.WithLabels(reason).Set(count);
            }
            decisionMs.Set(s.Adaptation?.LastDecisionMs ?? 0);
            foreach (var d in s.Devices)
            {
                if (double.IsFinite(d.CpuAvailability))
                {
                    cpuFree.WithLabels(d.Name).Set(d.CpuAvailability);
                }
                foreach (var l in d.Links)
                {
                    bandwidth.WithLabels(d.Name, l.Peer).Set(l.BytesPerSecond);
                    if (double.IsFinite(l.RttMs))
                    {
                        rtt.WithLabels(d.Name, l.Peer).Set(l.RttMs);
                    }
                }
            }
        });
    }
}
