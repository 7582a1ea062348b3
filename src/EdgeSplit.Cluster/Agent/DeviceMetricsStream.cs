using System.Runtime.CompilerServices;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Monitoring;

namespace EdgeSplit.Cluster.Agent;

/// <summary>
/// One Metrics stream of an agent: its own resource monitor (so utilisations are over the stream's
/// interval), the links to the named peers measured side by side, a sample every interval on the
/// agent's clock. Configured peers get a bandwidth probe when idle; others only an RTT ping, without the token.
/// </summary>
internal sealed class DeviceMetricsStream(AgentCore core)
{
    /// <summary>Samples until <paramref name="ct"/> is cancelled.</summary>
    public async IAsyncEnumerable<DeviceSample> RunAsync(TimeSpan interval, IReadOnlyList<string> peers, IReadOnlyList<string> peerNames, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var monitor = new ResourceMonitor(core.Options.Monitoring with { TimeProvider = core.Time });
        var deviceCores = core.Options.Monitoring.EmulatedCpuCores ?? Environment.ProcessorCount;
        var valid = peers.Take(16).Select((peer, i) => (Peer: peer, Name: i < peerNames.Count ? peerNames[i] : null)).Where(p => Transport.Endpoints.IsPeer(p.Peer)).ToList();
        // A periodic timer, not a delay after each sample: samples keep to the period however long measuring takes.
        using var timer = new PeriodicTimer(interval, core.Time);
        while (!ct.IsCancellationRequested)
        {
            // Peers are measured side by side, so one slow (emulated) link does not stall the stream.
            await Task.WhenAll(valid.Select(p => MeasureLinkAsync(p.Peer, p.Name, ct)));
            // Named by the peer's device where the coordinator said it: one device may be reached at several addresses.
            var links = valid.Select(p => (p.Name, Estimate: core.Links.For(p.Peer).Current))
                .Select(l => new LinkSample(string.IsNullOrEmpty(l.Name) ? l.Estimate.Peer : l.Name, l.Estimate.RttMs ?? double.NaN, l.Estimate.BytesPerSecond ?? 0)).ToList();
            var sample = From(core.Name, monitor.Sample(), deviceCores, links, core.Queued, core.Executed) with { Provider = core.Store.Provider.Used };
            // Emulated devices: the share of the device other jobs take, as the testbed emulates it (the links file's cpu_load).
            if ((core.CpuUtilisationOverride ?? core.Options.Emulation?.Current.CpuLoad) is { } busy)
            {
                // Emulated load: the whole device is this busy, none of it by EdgeSplit.
                sample = sample with { CpuUtilisation = busy, CpuPerCore = [.. sample.CpuPerCore.Select(_ => busy)], ProcessCpuUtilisation = 0 };
            }
            yield return sample;
            try
            {
                await timer.WaitForNextTickAsync(ct);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
        }
    }

    /// <summary>Pings a peer for its RTT and, when it is configured and its link has been idle, sends a short probe for its bandwidth.</summary>
    private async Task MeasureLinkAsync(string peer, string? peerName, CancellationToken ct)
    {
        var estimator = core.Links.For(peer);
        var connection = core.Peer(peer, peerName);
        if (await TimeAsync(connection, peer, peerName, 0, ct) is { } rtt)
        {
            estimator.AddRtt(rtt);
        }
        // An unconfigured peer gets no token, so it would refuse a probe before reading it: nothing to time.
        if (core.Trusts(peer) && estimator.ProbeDue && core.Options.ProbeBytes > 0 && await TimeAsync(connection, peer, peerName, core.Options.ProbeBytes, ct) is { } probe)
        {
            estimator.AddTransfer(core.Options.ProbeBytes, probe, isProbe: true);
        }
    }

    private async Task<TimeSpan?> TimeAsync(Transport.AgentConnection connection, string peer, string? peerName, int paddingBytes, CancellationToken ct)
    {
        var started = core.Time.GetTimestamp();
        if (core.Options.Emulation is { } emulation)
        {
            await emulation.BeforeSendAsync(AgentService.EmulatedPeer(emulation, peer, peerName), paddingBytes, ct);
        }
        return await connection.PingAsync(paddingBytes, core.Options.PeerProbeTimeout, ct) ? core.Time.GetElapsedTime(started) : null;
    }

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
