namespace EdgeSplit.Cluster.Monitoring;

/// <summary>
/// The fallback power model of a device: P = P_idle + (P_peak - P_idle) * utilisation, plus a fixed
/// energy per byte sent or received. Figures from it are estimates and are labelled so.
/// </summary>
public sealed record PowerModel(double IdlePowerW, double PeakPowerW, double EnergyPerByteNj)
{
    /// <summary>Power drawn by the CPU side at <paramref name="utilisation"/> (0..1).</summary>
    public double PowerW(double utilisation) => IdlePowerW + ((PeakPowerW - IdlePowerW) * Math.Clamp(utilisation, 0, 1));
}
