using EdgeSplit.Cluster.Monitoring;

namespace EdgeSplit.Cluster.Agent;

/// <summary>One reading of a device as the agent's Metrics stream reports it.</summary>
public sealed record DeviceSample(
    string Name,
    DateTimeOffset Time,
    double CpuUtilisation,
    IReadOnlyList<double> CpuPerCore,
    long MemoryAvailableBytes,
    long MemoryLimitBytes,
    double ProcessCpuUtilisation,
    long ProcessRssBytes,
    long NetBytesIn,
    long NetBytesOut,
    double TemperatureC,
    double PowerW,
    double EnergyJ,
    bool PowerEstimated,
    IReadOnlyList<LinkSample> Links,
    int Queued,
    long Executed)
{
    /// <summary>Maps a resource monitor snapshot; unknown temperature and power become NaN (power then counts as estimated).</summary>
    public static DeviceSample From(string name, ResourceSnapshot s, double deviceCores, IReadOnlyList<LinkSample> links, int queued, long executed) => new(
        name,
        s.Timestamp,
        s.CpuUtilisation,
        s.CoreUtilisation,
        s.UsableMemoryBytes,
        s.CgroupMemoryLimitBytes ?? s.MemoryTotalBytes,
        deviceCores > 0 ? s.ProcessCpuCores / deviceCores : 0,
        s.ProcessRssBytes,
        s.Interfaces.Where(i => i.Name != "lo").Sum(i => i.ReceivedBytes),
        s.Interfaces.Where(i => i.Name != "lo").Sum(i => i.SentBytes),
        s.TemperatureCelsius ?? double.NaN,
        s.Power?.Watts ?? double.NaN,
        s.Power?.EnergyJoules ?? double.NaN,
        s.Power?.Estimated ?? true,
        links,
        queued,
        executed);
}

/// <summary>Measured link to a peer: round trip and (when known) bandwidth.</summary>
public sealed record LinkSample(string Peer, double RttMs, double BandwidthBytesPerSecond);
