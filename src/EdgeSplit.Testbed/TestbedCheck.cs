using System.Text.Json.Serialization;
using EdgeSplit.Testbed.Calibration;

namespace EdgeSplit.Testbed;

/// <summary>A link as configured and as measured (bandwidth A to B and B to A, RTT), on the emulated devices' clock.</summary>
public sealed record LinkCheck(
    [property: JsonPropertyName("a")] string A,
    [property: JsonPropertyName("b")] string B,
    [property: JsonPropertyName("configured_bandwidth_mbps")] double ConfiguredBandwidthMbps,
    [property: JsonPropertyName("measured_bandwidth_mbps")] double MeasuredBandwidthMbps,
    [property: JsonPropertyName("measured_bandwidth_mbps_reverse")] double MeasuredBandwidthMbpsReverse,
    [property: JsonPropertyName("configured_rtt_ms")] double ConfiguredRttMs,
    [property: JsonPropertyName("measured_rtt_ms")] double MeasuredRttMs)
{
    /// <summary>Worse of the two directions' relative error.</summary>
    [JsonPropertyName("bandwidth_error")]
    public double BandwidthError => Math.Max(
        Math.Abs(MeasuredBandwidthMbps - ConfiguredBandwidthMbps),
        Math.Abs(MeasuredBandwidthMbpsReverse - ConfiguredBandwidthMbps)) / ConfiguredBandwidthMbps;
}

/// <summary>
/// A device's speed: the reference model's latency it is calibrated to (the published figure when its unit
/// lists the model), the same on the host as it runs now (the host's CPU time of the model drifts with other
/// tenants' load), and the latency measured inside the device; all on the emulated devices' clock.
/// </summary>
public sealed record DeviceCheck(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("profile")] string Profile,
    [property: JsonPropertyName("unit")] string Unit,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("published_ms")] double? PublishedMs,
    [property: JsonPropertyName("calibrated_ms")] double CalibratedMs,
    [property: JsonPropertyName("calibrated_now_ms")] double CalibratedNowMs,
    [property: JsonPropertyName("measured_ms")] double MeasuredMs,
    [property: JsonPropertyName("busy_cores")] double BusyCores,
    [property: JsonPropertyName("speed_basis")] string SpeedBasis)
{
    /// <summary>The emulation's error: measured against the calibrated speed on the host as it runs now.</summary>
    [JsonPropertyName("speed_error")]
    public double SpeedError => Math.Abs(MeasuredMs - CalibratedNowMs) / CalibratedNowMs;

    /// <summary>How far the host's CPU time of the model is now from its cached calibration.</summary>
    [JsonPropertyName("host_drift")]
    public double HostDrift => (CalibratedNowMs / CalibratedMs) - 1;
}

/// <summary>What <c>testbed check</c> found.</summary>
public sealed record CheckReport(
    [property: JsonPropertyName("testbed")] string Testbed,
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("dilation_factor")] double DilationFactor,
    [property: JsonPropertyName("dilation")] string Dilation,
    [property: JsonPropertyName("links")] IReadOnlyList<LinkCheck> Links,
    [property: JsonPropertyName("devices")] IReadOnlyList<DeviceCheck> Devices,
    [property: JsonPropertyName("note")] string Note);

/// <summary>Measures what a running testbed really gives, next to what it was told to give.</summary>
public static class TestbedCheck
{
    /// <param name="testbed">A namespace testbed without device processes.</param>
    /// <param name="emulation">How it was planned: speeds, the calibration they came from and the dilation.</param>
    /// <param name="model">The reference model each device's speed is measured with.</param>
    /// <param name="probe">Starts the speed probe child (<c>edgesplit testbed probe --model M</c>).</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="cancel">Stops early.</param>
    public static async Task<CheckReport> RunAsync(RunningTestbed testbed, TestbedEmulation emulation, string model, Func<string, ProcessLaunch> probe, Action<string> log, CancellationToken cancel)
    {
        var state = testbed.State;
        if (state.Mode == TestbedMode.Loopback)
        {
            throw new EdgeSplit.Graph.BadInputException("testbed check needs root: in the loopback fallback shaping and slowdown happen inside the agents, so there is nothing in the kernel to measure; run it as root");
        }
        var dilation = emulation.Dilation;
        log(dilation.Label);
        var links = new List<LinkCheck>();
        foreach (var link in state.Links)
        {
            log($"measuring link {link.A} <-> {link.B} (configured {link.BandwidthMbps} Mbit/s, RTT {2 * link.LatencyMs} ms)");
            var duration = TimeSpan.FromSeconds(link.BandwidthMbps < 5 ? 3 : 1.5);
            // A link's capacity is the best goodput it allows: a busy host can only lower one transfer, never lift it past the shaped rate.
            var forward = Math.Max(await LinkProbe.MeasureBandwidthMbpsAsync(testbed, link.A, link.B, duration, cancel), await LinkProbe.MeasureBandwidthMbpsAsync(testbed, link.A, link.B, duration, cancel));
            var reverse = Math.Max(await LinkProbe.MeasureBandwidthMbpsAsync(testbed, link.B, link.A, duration, cancel), await LinkProbe.MeasureBandwidthMbpsAsync(testbed, link.B, link.A, duration, cancel));
            var rtt = await LinkProbe.MeasureRttMsAsync(testbed, link.A, link.B, 20, cancel);
            links.Add(new LinkCheck(link.A, link.B, link.BandwidthMbps, forward * dilation.Factor, reverse * dilation.Factor, 2 * link.LatencyMs, dilation.ReportMs(rtt)));
        }
        var devices = new List<DeviceCheck>();
        foreach (var device in emulation.Devices)
        {
            var calibrated = dilation.ReportMs(device.EmulatedMs(emulation.Host, model));
            log($"measuring device {device.Name} ({device.Unit.Name}): {model} calibrated at {calibrated:0.#} ms, {device.BusyCores:0.###} host cores when busy");
            var result = await SpeedProbe.MeasureAsync(testbed, device.Name, probe(model), cancel);
            devices.Add(new DeviceCheck(device.Name, device.Profile, device.Unit.Name, model,
                device.Unit.ReferenceMs.TryGetValue(model, out var published) ? published : null,
                calibrated, dilation.ReportMs(result.HostCpuMs * device.Slowdown), dilation.ReportMs(result.DeviceMs), device.BusyCores, device.Speed.Basis));
        }
        return new CheckReport(state.Name, "namespaces (emulated)", emulation.Host.Describe(), dilation.Factor, dilation.Label, links, devices,
            $"host load average {LoadAverage()} during the check (other tenants slow every figure); " +
            "bandwidth is the better of two TCP goodput runs per direction (~4% under the shaped line rate for framing); RTT includes the one-way latency each sender adds (no netem in this kernel); " +
            $"a device's latency is {model} run by ONNX Runtime on one thread inside the device's namespace and cgroups and stretched as its agent stretches, median of {SpeedProbe.Runs} runs, each after a pause; " +
            "calibrated = this host's cached CPU time of the model over the unit's speed; on this host now = the same with the model's CPU time measured by the same probe " +
            "in plain runs between the stretched ones (what the emulation stretches; it drifts with other tenants' load); all on the emulated devices' clock (dilated figures divided back)");
    }

    private static string LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
