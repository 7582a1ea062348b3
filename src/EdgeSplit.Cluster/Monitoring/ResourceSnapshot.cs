namespace EdgeSplit.Cluster.Monitoring;

/// <summary>Byte counters of one network interface and their rates over the last interval.</summary>
public sealed record InterfaceTraffic(string Name, long ReceivedBytes, long SentBytes, double ReceivedBytesPerSecond, double SentBytesPerSecond);

/// <summary>
/// Power and cumulative energy of the device. <see cref="Estimated"/> is true when the figure comes from
/// the profile's power model rather than a sensor; <see cref="Source"/> names it (e.g. "rapl", "hwmon:ina3221",
/// "model (estimated)").
/// </summary>
public sealed record PowerReading(double Watts, double EnergyJoules, bool Estimated, string Source)
{
    /// <summary>A label for tables and plots that never hides an estimate.</summary>
    public string Label => Estimated ? $"{Watts:0.00} W (estimated)" : $"{Watts:0.00} W ({Source})";
}

/// <summary>
/// One sample of a device's resources. Utilisations are fractions (0..1) of the whole host or core;
/// <see cref="ProcessCpuCores"/> is in cores (1.5 = one and a half cores busy); rates are over
/// <see cref="Interval"/>, the time since the previous sample.
/// </summary>
public sealed record ResourceSnapshot(
    DateTimeOffset Timestamp,
    TimeSpan Interval,
    double CpuUtilisation,
    IReadOnlyList<double> CoreUtilisation,
    long MemoryTotalBytes,
    long MemoryAvailableBytes,
    long? CgroupMemoryLimitBytes,
    long? CgroupMemoryUsageBytes,
    double ProcessCpuCores,
    long ProcessRssBytes,
    IReadOnlyList<InterfaceTraffic> Interfaces,
    double? TemperatureCelsius,
    PowerReading? Power)
{
    /// <summary>Memory this process may still use: the tighter of the host's available memory and the cgroup's headroom.</summary>
    public long UsableMemoryBytes => CgroupMemoryLimitBytes is { } limit && CgroupMemoryUsageBytes is { } used
        ? Math.Min(MemoryAvailableBytes, Math.Max(0, limit - used))
        : MemoryAvailableBytes;
}
