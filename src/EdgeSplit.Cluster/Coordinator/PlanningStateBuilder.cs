using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Planning;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// Turns the coordinator's live view into a <see cref="PlanningState"/>: per device CPU availability
/// from utilisation minus EdgeSplit's own share (smoothed), free memory capped by the configured
/// budget; per link the agents' passive bandwidth and RTT estimates, falling back to configured or
/// default figures before any traffic.
/// </summary>
public sealed class PlanningStateBuilder(AdaptiveOptions options, SegmentProfile profile)
{
    private static readonly DevicePowerModel DefaultPower = new(2.7, 6.4, 5e-9, 5e-9);
    private readonly Dictionary<string, (DateTimeOffset Time, double Value)> _smoothedCpu = new(StringComparer.Ordinal);

    private SegmentProfile? _layerWise;

    public SegmentProfile Profile { get; } = profile.Validate();

    /// <summary>
    /// The state of the live devices of <paramref name="request"/>. When the source device is not among
    /// them, the input enters where the camera's frames arrive (the coordinator) and the plan starts at the first live device.
    /// </summary>
    public PlanningState Build(PlanRequest request)
    {
        var live = request.LiveDevices;
        var byName = request.Agents.ToDictionary(a => a.Name, StringComparer.Ordinal);
        var devices = new List<DeviceSpec>();
        foreach (var name in live)
        {
            var spec = options.Devices?.GetValueOrDefault(name);
            var agent = byName.GetValueOrDefault(name);
            var sample = agent?.Latest;
            var availability = sample is null ? 1.0 : SmoothedAvailability(name, sample);
            var memory = sample?.MemoryAvailableBytes ?? agent?.PingMemoryBytes ?? 0;
            if (memory <= 0)
            {
                memory = long.MaxValue / 4;
            }
            if (spec is { MemoryBudgetBytes: > 0 })
            {
                memory = Math.Min(memory, spec.MemoryBudgetBytes);
            }
            devices.Add(new DeviceSpec(name, spec?.RelativeSpeed ?? 1.0, Math.Clamp(availability, options.MinCpuAvailability, 1), memory, spec?.Power ?? DefaultPower));
        }
        var links = new List<LinkSpec>();
        foreach (var from in live)
        {
            var measured = byName.GetValueOrDefault(from)?.Latest?.Links;
            foreach (var to in live.Where(d => d != from))
            {
                var address = byName.GetValueOrDefault(to)?.Address;
                var sample = measured?.FirstOrDefault(l => l.Peer == address || l.Peer == to);
                var configured = options.Links?.FirstOrDefault(l => l.From == from && l.To == to);
                var bandwidth = sample is { BandwidthBytesPerSecond: > 0 } ? sample.BandwidthBytesPerSecond : configured?.BytesPerSecond ?? options.DefaultBytesPerSecond;
                var rtt = sample is not null && double.IsFinite(sample.RttMs) && sample.RttMs > 0 ? sample.RttMs : configured?.RttMs ?? options.DefaultRttMs;
                links.Add(new LinkSpec(from, to, bandwidth, rtt));
            }
        }
        var source = live.Contains(request.SourceDevice) ? request.SourceDevice : live[0];
        // The planner runs on every tick: tile groups only where they stay cheap to weigh (see MaxTiledDevices).
        var profile = Profile.Tiling is not null && devices.Count > options.MaxTiledDevices ? _layerWise ??= Profile with { Tiling = null } : Profile;
        return new PlanningState(devices, links, profile, source, options.Clock?.Invoke() ?? request.Elapsed).Validate();
    }

    /// <summary>EWMA of a device's CPU availability over its samples, so one noisy sample does not move the plan.</summary>
    private double SmoothedAvailability(string device, DeviceSample sample)
    {
        lock (_smoothedCpu)
        {
            var now = CpuAvailability(sample);
            if (_smoothedCpu.TryGetValue(device, out var old))
            {
                if (old.Time == sample.Time)
                {
                    return old.Value;
                }
                now = old.Value + (options.CpuSmoothing * (now - old.Value));
            }
            _smoothedCpu[device] = (sample.Time, now);
            return now;
        }
    }

    /// <summary>The share of the device's CPU free for EdgeSplit: 1 - (utilisation - EdgeSplit's own share), so its own work does not chase itself away.</summary>
    public static double CpuAvailability(DeviceSample sample)
    {
        var others = sample.CpuUtilisation - (double.IsFinite(sample.ProcessCpuUtilisation) ? sample.ProcessCpuUtilisation : 0);
        return 1 - Math.Clamp(double.IsFinite(others) ? others : 0, 0, 1);
    }
}
