namespace EdgeSplit.Reports;

/// <summary>Latency of a whole model on one device profile.</summary>
public sealed record DeviceLatency(string Device, double LatencyMs);

/// <summary>One row of the proposal's Table 4.1: a zoo model measured on each single device profile.</summary>
public sealed record Table41Row(
    string Model,
    long Parameters,
    double ModelSizeMb,
    IReadOnlyList<DeviceLatency> LatencyByDevice,
    double PeakMemoryMb);

/// <summary>Table 4.1 reproduced, for `edgesplit bench --table41`.</summary>
public sealed record Table41Report(
    string Title,
    string Testbed,
    bool Emulated,
    string Host,
    IReadOnlyList<Table41Row> Rows,
    string? ClosingNote = null);
