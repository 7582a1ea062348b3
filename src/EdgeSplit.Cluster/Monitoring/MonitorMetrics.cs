using Prometheus;

namespace EdgeSplit.Cluster.Monitoring;

/// <summary>
/// Exposes a device's samples as Prometheus metrics (prometheus-net; counters end in _total, times are in seconds). Register once, then an ASP.NET
/// host maps them with <c>app.MapMetrics("/metrics")</c> (the default registry) or serves a custom
/// registry itself. Power and energy carry an <c>estimated</c> label.
/// </summary>
public sealed class MonitorMetrics
{
    private readonly Gauge cpu;
    private readonly Gauge core;
    private readonly Gauge memoryAvailable;
    private readonly Gauge memoryTotal;
    private readonly Gauge cgroupLimit;
    private readonly Gauge processCpu;
    private readonly Gauge processRss;
    private readonly Counter received;
    private readonly Counter sent;
    private readonly Gauge temperature;
    private readonly Gauge power;
    private readonly Counter energy;
    private readonly Gauge rtt;
    private readonly Gauge bandwidth;
    private readonly Gauge provider;
    private readonly string device;

    public MonitorMetrics(string device, CollectorRegistry? registry = null)
    {
        this.device = device;
        var factory = Metrics.WithCustomRegistry(registry ?? Metrics.DefaultRegistry);
        Gauge G(string name, string help, params string[] labels) =>
            factory.CreateGauge(name, help, new GaugeConfiguration { LabelNames = ["device", .. labels] });
        Counter C(string name, string help, params string[] labels) =>
            factory.CreateCounter(name, help, new CounterConfiguration { LabelNames = ["device", .. labels] });
        cpu = G("edgesplit_cpu_utilisation_ratio", "Host CPU busy fraction over the last sample interval (0..1).");
        core = G("edgesplit_cpu_core_utilisation_ratio", "Per-core CPU busy fraction (0..1).", "core");
        memoryAvailable = G("edgesplit_memory_available_bytes", "MemAvailable of the host.");
        memoryTotal = G("edgesplit_memory_total_bytes", "MemTotal of the host.");
        cgroupLimit = G("edgesplit_cgroup_memory_limit_bytes", "Memory limit of the process's cgroup (absent if unlimited).");
        processCpu = G("edgesplit_process_cpu_cores", "CPU used by the agent process, in cores.");
        processRss = G("edgesplit_process_resident_bytes", "Resident set size of the agent process.");
        received = C("edgesplit_network_receive_bytes_total", "Bytes received on an interface since it came up.", "interface");
        sent = C("edgesplit_network_transmit_bytes_total", "Bytes sent on an interface since it came up.", "interface");
        temperature = G("edgesplit_temperature_celsius", "Hottest thermal zone.");
        power = G("edgesplit_power_watts", "Device power; estimated=\"true\" when it comes from the power model, not a sensor.", "source", "estimated");
        energy = C("edgesplit_energy_joules_total", "Energy since the monitor started; estimated=\"true\" when modelled.", "source", "estimated");
        rtt = G("edgesplit_link_rtt_seconds", "Smoothed RTT to a peer.", "peer");
        bandwidth = G("edgesplit_link_bandwidth_bytes_per_second", "Smoothed bandwidth to a peer, learned from transfers.", "peer");
        provider = G("edgesplit_execution_provider_info", "1 for the ONNX Runtime execution provider the device's partitions really run on.", "provider");
    }

    /// <summary>Updates the gauges on every sample of <paramref name="monitor"/> (and once now).</summary>
    public MonitorMetrics Follow(ResourceMonitor monitor, LinkEstimators? links = null, Func<string>? executionProvider = null)
    {
        void Sample(ResourceSnapshot s)
        {
            Update(s, links?.All);
            if (executionProvider is not null)
            {
                SetProvider(executionProvider());
            }
        }
        Sample(monitor.Latest);
        monitor.Sampled += Sample;
        return this;
    }

    /// <summary>Marks <paramref name="name"/> as the provider in use (1) and any other seen before as not (0).</summary>
    public void SetProvider(string name) => MarkProvider(provider, device, name);

    /// <summary>Sets <c>{device, provider}</c> of an info gauge to 1 for <paramref name="used"/>, 0 for the device's earlier ones.</summary>
    internal static void MarkProvider(Gauge gauge, string device, string used)
    {
        foreach (var labels in gauge.GetAllLabelValues().Where(l => l[0] == device && l[1] != used).ToList())
        {
            gauge.WithLabels(labels).Set(0);
        }
        gauge.WithLabels(device, used).Set(1);
    }

    public void Update(ResourceSnapshot s, IReadOnlyList<LinkEstimate>? links = null)
    {
        cpu.WithLabels(device).Set(s.CpuUtilisation);
        for (var i = 0; i < s.CoreUtilisation.Count; i++)
        {
            core.WithLabels(device, i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Set(s.CoreUtilisation[i]);
        }
        memoryAvailable.WithLabels(device).Set(s.MemoryAvailableBytes);
        memoryTotal.WithLabels(device).Set(s.MemoryTotalBytes);
        if (s.CgroupMemoryLimitBytes is { } limit)
        {
            cgroupLimit.WithLabels(device).Set(limit);
        }
        processCpu.WithLabels(device).Set(s.ProcessCpuCores);
        processRss.WithLabels(device).Set(s.ProcessRssBytes);
        foreach (var i in s.Interfaces)
        {
            received.WithLabels(device, i.Name).IncTo(i.ReceivedBytes);
            sent.WithLabels(device, i.Name).IncTo(i.SentBytes);
        }
        if (s.TemperatureCelsius is { } t)
        {
            temperature.WithLabels(device).Set(t);
        }
        if (s.Power is { } p)
        {
            var estimated = p.Estimated ? "true" : "false";
            power.WithLabels(device, p.Source, estimated).Set(p.Watts);
            energy.WithLabels(device, p.Source, estimated).IncTo(p.EnergyJoules);
        }
        foreach (var link in links ?? [])
        {
            if (link.RttMs is { } ms)
            {
                rtt.WithLabels(device, link.Peer).Set(ms / 1000);
            }
            if (link.BytesPerSecond is { } bps)
            {
                bandwidth.WithLabels(device, link.Peer).Set(bps);
            }
        }
    }
}
