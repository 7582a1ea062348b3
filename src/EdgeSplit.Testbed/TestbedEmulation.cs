using System.Globalization;
using EdgeSplit.Planning;
using EdgeSplit.Testbed.Calibration;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed;

/// <summary>
/// One emulated device's compute: the unit it runs on, that unit's speed in host cores and the testbed's
/// dilation. Each device runs ONNX Runtime on one thread; a compute of C host CPU seconds is stretched to
/// C x <see cref="Slowdown"/> seconds, so a busy device uses <see cref="BusyCores"/> of the host.
/// </summary>
public sealed record DeviceEmulation(string Name, string Profile, ComputeUnit Unit, UnitSpeed Speed, TimeDilation Dilation)
{
    /// <summary>Host cores the device uses while it computes without pause: its speed, slowed by the dilation.</summary>
    public double BusyCores => Dilation.Slow(Speed.HostCores);

    /// <summary>Host wall seconds per host CPU second of inference on this device, dilation included.</summary>
    public double Slowdown => Dilation.Factor / Speed.HostCores;

    /// <summary>The latency this device is emulated at for a reference model this host measured (host milliseconds, dilated).</summary>
    public double EmulatedMs(HostCalibration host, string model) => host.CpuMs[model] * Slowdown;

    /// <summary>The planner's speed for this device: node times measured on this host divided by it give the device's (dilated) times.</summary>
    public double RelativeSpeed => 1 / Slowdown;
}

/// <summary>
/// How a testbed is emulated on this host: every device's unit speed from the profiles' published latencies
/// against this host's own (<see cref="HostCalibration"/>), and one dilation factor so that all devices
/// computing at once fit in the host's cores with headroom. The planners' view of each device and link
/// comes from here too, in the same (dilated) units the coordinator measures.
/// </summary>
public sealed record TestbedEmulation(TestbedSpec Spec, HostCalibration Host, TimeDilation Dilation, IReadOnlyList<DeviceEmulation> Devices, string? Model)
{
    /// <summary>
    /// Plans the emulation. <paramref name="model"/> is the model about to be served: devices whose units
    /// list it run at exactly its published latency; otherwise speeds are geometric means over the
    /// reference models. <paramref name="hostCores"/> defaults to this host's.
    /// </summary>
    /// <param name="spec">The testbed.</param>
    /// <param name="host">This host's calibration.</param>
    /// <param name="model">The model about to be served, or null.</param>
    /// <param name="hostCores">Cores to fit the devices in (default: this host's).</param>
    /// <param name="dilation">A factor to use instead of sizing one (a testbed already up keeps its own).</param>
    public static TestbedEmulation Plan(TestbedSpec spec, HostCalibration host, string? model = null, int? hostCores = null, TimeDilation? dilation = null)
    {
        var speeds = spec.Devices.Select(d => (Device: d, Speed: UnitSpeed.Of(d.Unit, host, model))).ToList();
        dilation ??= TimeDilation.For([.. speeds.Select(s => s.Speed.HostCores)], hostCores ?? Environment.ProcessorCount);
        var devices = speeds.Select(s => new DeviceEmulation(s.Device.Name, s.Device.Profile.Name, s.Device.Unit, s.Speed, dilation)).ToList();
        return new TestbedEmulation(spec, host, dilation, devices, model);
    }

    public DeviceEmulation Device(string name) => Devices.FirstOrDefault(d => d.Name == name)
        ?? throw new ArgumentException($"no device '{name}' in testbed '{Spec.Name}'", nameof(name));

    /// <summary>Host cores all devices may use at once.</summary>
    public double DemandCores => Devices.Sum(d => d.BusyCores);

    /// <summary>
    /// A device as the planners see it: speed relative to this host (dilated), the share of its unit left
    /// by other jobs, memory left, and its unit's power model (power divided by the dilation, so energy =
    /// power x dilated time stays the device's own).
    /// </summary>
    public DeviceSpec DeviceSpec(string name, double availability = 1, double? memoryAvailableMb = null)
    {
        var device = Spec.Device(name);
        var unit = device.Unit;
        var joulesPerByte = device.Profile.Network.EnergyPerByteNj * 1e-9;
        return new DeviceSpec(name, Device(name).RelativeSpeed, Math.Clamp(availability, 0.01, 1),
            (long)((memoryAvailableMb ?? device.Profile.MemoryMb) * (1 << 20)),
            new DevicePowerModel(Dilation.Slow(unit.IdlePowerW), Dilation.Slow(unit.ActivePowerW), joulesPerByte, joulesPerByte));
    }

    /// <summary>Both directions of a link as the planners see it: bandwidth and RTT (2 x one-way latency) on the dilated clock.</summary>
    public IEnumerable<LinkSpec> LinkSpecs(string a, string b, double bandwidthMbps, double latencyMs)
    {
        var bytesPerSecond = Dilation.Slow(bandwidthMbps * 125_000);
        var rttMs = Dilation.StretchMs(2 * latencyMs);
        yield return new LinkSpec(a, b, bytesPerSecond, rttMs);
        yield return new LinkSpec(b, a, bytesPerSecond, rttMs);
    }

    /// <summary>One line per device for consoles and reports: unit, published figure, speed and host cores when busy.</summary>
    public IEnumerable<string> Describe()
    {
        foreach (var d in Devices)
        {
            var published = Model is not null && d.Unit.ReferenceMs.TryGetValue(Model, out var ms) ? $", {Model} published {ms.ToString("0.#", CultureInfo.InvariantCulture)} ms" : "";
            yield return $"{d.Name} ({d.Profile} {d.Unit.Name}{published}): speed {d.Speed.HostCores.ToString("0.###", CultureInfo.InvariantCulture)} host cores from {d.Speed.Basis}, " +
                $"{d.BusyCores.ToString("0.###", CultureInfo.InvariantCulture)} host cores when busy{(d.Dilation.IsDilated ? " (dilated)" : "")}";
        }
    }
}
