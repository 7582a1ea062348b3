using System.Text.Json.Serialization;

namespace EdgeSplit.Testbed;

/// <summary>A link as configured and as measured (bandwidth A to B and B to A, RTT).</summary>
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

/// <summary>A device's CPU slowdown as configured from its profile and as measured with the reference workload.</summary>
public sealed record DeviceCheck(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("profile")] string Profile,
    [property: JsonPropertyName("emulated_cores")] int EmulatedCores,
    [property: JsonPropertyName("quota_cores")] double QuotaCores,
    [property: JsonPropertyName("configured_slowdown")] double ConfiguredSlowdown,
    [property: JsonPropertyName("measured_slowdown")] double MeasuredSlowdown)
{
    [JsonPropertyName("slowdown_error")]
    public double SlowdownError => Math.Abs(MeasuredSlowdown - ConfiguredSlowdown) / ConfiguredSlowdown;
}

/// <summary>What <c>testbed check</c> found.</summary>
public sealed record CheckReport(
    [property: JsonPropertyName("testbed")] string Testbed,
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("host_relative_cpu_speed")] double HostRelativeCpuSpeed,
    [property: JsonPropertyName("links")] IReadOnlyList<LinkCheck> Links,
    [property: JsonPropertyName("devices")] IReadOnlyList<DeviceCheck> Devices,
    [property: JsonPropertyName("note")] string Note);

/// <summary>Measures what a running testbed really gives, next to what it was told to give.</summary>
public static class TestbedCheck
{
    public static async Task<CheckReport> RunAsync(RunningTestbed testbed, Func<int, double, ProcessLaunch> workload, Action<string> log, CancellationToken cancel)
    {
        var state = testbed.State;
        if (state.Mode == TestbedMode.Loopback)
        {
            throw new EdgeSplit.Graph.BadInputException("testbed check needs root: in the loopback fallback shaping and slowdown happen inside the agents, so there is nothing in the kernel to measure; run it as root");
        }
        var links = new List<LinkCheck>();
        foreach (var link in state.Links)
        {
            log($"measuring link {link.A} <-> {link.B} (configured {link.BandwidthMbps} Mbit/s, RTT {2 * link.LatencyMs} ms)");
            var duration = TimeSpan.FromSeconds(link.BandwidthMbps < 5 ? 3 : 2);
            var forward = await LinkProbe.MeasureBandwidthMbpsAsync(testbed, link.A, link.B, duration, cancel);
            var reverse = await LinkProbe.MeasureBandwidthMbpsAsync(testbed, link.B, link.A, duration, cancel);
            var rtt = await LinkProbe.MeasureRttMsAsync(testbed, link.A, link.B, 20, cancel);
            links.Add(new LinkCheck(link.A, link.B, link.BandwidthMbps, forward, reverse, 2 * link.LatencyMs, rtt));
        }
        var devices = new List<DeviceCheck>();
        foreach (var device in state.Devices)
        {
            log($"measuring device {device.Name} (configured slowdown {device.ConfiguredSlowdown:0.00}x on {device.EmulatedCores} core(s))");
            var slowdown = await SlowdownProbe.MeasureAsync(testbed, device.Name, workload, cancel);
            devices.Add(new DeviceCheck(device.Name, device.Profile, device.EmulatedCores, device.QuotaCores, device.ConfiguredSlowdown, slowdown));
        }
        return new CheckReport(state.Name, "namespaces (emulated)", state.HostRelativeCpuSpeed, links, devices,
            "bandwidth is TCP goodput (~4% under the shaped line rate for framing); RTT includes the one-way latency each sender adds (no netem in this kernel); slowdown is the reference workload inside the device's cgroup over the same workload unconstrained, on a host shared with other load");
    }
}
