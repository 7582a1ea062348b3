using EdgeSplit.Graph;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed.Calibration;

/// <summary>
/// How fast a compute unit runs, in cores of this host: this host's latency of a reference model over the
/// unit's published latency of the same model. <see cref="Basis"/> says which model(s) it came from.
/// </summary>
public sealed record UnitSpeed(double HostCores, string Basis)
{
    /// <summary>
    /// From <paramref name="model"/> when both the unit and the host have it (the served model, so its
    /// emulated latency is the published one); otherwise the geometric mean over every model both have.
    /// </summary>
    public static UnitSpeed Of(ComputeUnit unit, HostCalibration host, string? model = null)
    {
        if (model is not null && unit.ReferenceMs.TryGetValue(model, out var published) && host.CpuMs.TryGetValue(model, out var here))
        {
            return new UnitSpeed(here / published, model);
        }
        var common = unit.ReferenceMs.Keys.Where(host.CpuMs.ContainsKey).Order(StringComparer.Ordinal).ToList();
        if (common.Count == 0)
        {
            throw new BadInputException($"compute unit '{unit.Name}' gives reference_ms for {string.Join(", ", unit.ReferenceMs.Keys)}, none of which this host measured ({string.Join(", ", host.CpuMs.Keys)}); add one of them");
        }
        var logMean = common.Average(m => Math.Log(host.CpuMs[m] / unit.ReferenceMs[m]));
        return new UnitSpeed(Math.Exp(logMean), common.Count == 1 ? common[0] : $"geometric mean of {string.Join(", ", common)}");
    }
}
