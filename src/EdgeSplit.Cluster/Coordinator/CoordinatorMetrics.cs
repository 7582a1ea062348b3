using EdgeSplit.Cluster.Contracts;
using Prometheus;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>The coordinator's Prometheus metrics, read from its Status at each scrape (counters end in _total, times are in seconds).</summary>
internal static class CoordinatorMetrics
{
    public static void Register(CollectorRegistry registry, Func<CoordinatorStatus> status)
    {
        var factory = Metrics.WithCustomRegistry(registry);
        var requests = factory.CreateCounter("edgesplit_requests_total", "Requests by outcome since start.", "outcome");
        var planVersion = factory.CreateGauge("edgesplit_plan_version", "Version of the plan in force.");
        var switches = factory.CreateCounter("edgesplit_plan_versions_total", "Plan versions handed out since start: one per switch, failed ones included.");
        var switchSeconds = factory.CreateGauge("edgesplit_last_switch_duration_seconds", "Duration of the latest plan switch (deploy + warm + switch).");
        var decisions = factory.CreateCounter("edgesplit_adaptation_decisions_total", "Adaptation decisions by reason.", "reason");
        var decisionSeconds = factory.CreateGauge("edgesplit_adaptation_decision_duration_seconds", "Time of the latest adaptation decision.");
        var cpuFree = factory.CreateGauge("edgesplit_device_cpu_available_ratio", "CPU share free for EdgeSplit, per device.", "device");
        var bandwidth = factory.CreateGauge("edgesplit_link_bandwidth_bytes_per_second", "Passively measured bandwidth, per link.", "device", "peer");
        var rtt = factory.CreateGauge("edgesplit_link_rtt_seconds", "Smoothed RTT, per link.", "device", "peer");
        var provider = factory.CreateGauge("edgesplit_execution_provider_info", "1 for the ONNX Runtime execution provider each device's partitions really run on, from its metrics.", "device", "provider");
        registry.AddBeforeCollectCallback(() =>
        {
            var s = status();
            requests.WithLabels("completed").IncTo(s.Completed);
            requests.WithLabels("failed").IncTo(s.Failed);
            requests.WithLabels("retried").IncTo(s.Retried);
            planVersion.Set(s.Plan?.Version ?? 0);
            switches.IncTo(s.Switches.Count > 0 ? s.Switches[^1].ToVersion : 0);
            switchSeconds.Set(s.Switches.Count > 0 ? s.Switches[^1].Duration.TotalSeconds : 0);
            foreach (var (reason, count) in s.Adaptation?.Counts ?? new Dictionary<string, long>())
            {
                decisions.WithLabels(reason).IncTo(count);
            }
            decisionSeconds.Set((s.Adaptation?.LastDecisionMs ?? 0) / 1000);
            foreach (var d in s.Devices)
            {
                if (double.IsFinite(d.CpuAvailability))
                {
                    cpuFree.WithLabels(d.Name).Set(d.CpuAvailability);
                }
                if (d.Provider is { } used)
                {
                    Monitoring.MonitorMetrics.MarkProvider(provider, d.Name, used);
                }
                foreach (var l in d.Links)
                {
                    bandwidth.WithLabels(d.Name, l.Peer).Set(l.BytesPerSecond);
                    if (double.IsFinite(l.RttMs))
                    {
                        rtt.WithLabels(d.Name, l.Peer).Set(l.RttMs / 1000);
                    }
                }
            }
        });
    }
}
