using System.Collections.Concurrent;

namespace EdgeSplit.Cluster.Monitoring;

/// <summary>What is known about the link to one peer. Null figures have not been measured yet.</summary>
public sealed record LinkEstimate(
    string Peer,
    double? RttMs,
    double? MinRttMs,
    double? BytesPerSecond,
    int TransferSamples,
    TimeSpan SinceLastTransfer,
    bool ProbeDue)
{
    public double? BandwidthMbps => BytesPerSecond * 8 / 1e6;
}

/// <summary>
/// Learns the RTT and bandwidth of the link to one peer. Bandwidth comes passively from the real
/// tensor transfers (bytes over time, minus one RTT of latency, smoothed with an EWMA); when no
/// transfer big enough to measure has happened for <see cref="IdleProbeAfter"/>, <see cref="ProbeDue"/>
/// says a short active probe should be sent. Thread-safe.
/// </summary>
public sealed class LinkEstimator
{
    private readonly object gate = new();
    private readonly TimeProvider clock;
    private double? rttMs;
    private double? minRttMs;
    private double? bytesPerSecond;
    private int samples;
    private long lastTransfer;

    public LinkEstimator(string peer, double smoothing = 0.3, TimeSpan? idleProbeAfter = null, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(smoothing);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(smoothing, 1);
        Peer = peer;
        Smoothing = smoothing;
        IdleProbeAfter = idleProbeAfter ?? TimeSpan.FromSeconds(5);
        this.clock = clock ?? TimeProvider.System;
        lastTransfer = this.clock.GetTimestamp();
    }

    public string Peer { get; }

    /// <summary>Weight of the newest sample in the EWMA (0..1].</summary>
    public double Smoothing { get; }

    public TimeSpan IdleProbeAfter { get; }

    /// <summary>Transfers smaller than this say more about latency than bandwidth and are not used for it.</summary>
    public long MinimumTransferBytes { get; init; } = 32 * 1024;

    /// <summary>Records one RTT measurement (e.g. a Ping RPC round trip).</summary>
    public void AddRtt(TimeSpan rtt)
    {
        var ms = rtt.TotalMilliseconds;
        lock (gate)
        {
            rttMs = rttMs is { } old ? old + (Smoothing * (ms - old)) : ms;
            minRttMs = Math.Min(minRttMs ?? ms, ms);
        }
    }

    /// <summary>
    /// Records a real transfer of <paramref name="bytes"/> that took <paramref name="elapsed"/> from
    /// the first byte sent to the acknowledgement; one minimum RTT is taken off as latency.
    /// Returns false if the transfer was too small to say anything about bandwidth.
    /// </summary>
    public bool AddTransfer(long bytes, TimeSpan elapsed, bool isProbe = false)
    {
        lock (gate)
        {
            if (!isProbe)
            {
                lastTransfer = clock.GetTimestamp();
            }
            if (bytes < MinimumTransferBytes || elapsed <= TimeSpan.Zero)
            {
                return false;
            }
            var seconds = elapsed.TotalSeconds;
            var latency = (minRttMs ?? 0) / 1000;
            // Never let the latency correction eat more than half the time: a noisy RTT would explode the estimate.
            seconds = Math.Max(seconds - latency, seconds / 2);
            var rate = bytes / seconds;
            bytesPerSecond = bytesPerSecond is { } old ? old + (Smoothing * (rate - old)) : rate;
            samples++;
            if (isProbe)
            {
                lastTransfer = clock.GetTimestamp();
            }
            return true;
        }
    }

    /// <summary>True when no transfer has refreshed the bandwidth estimate for <see cref="IdleProbeAfter"/>, or none ever did.</summary>
    public bool ProbeDue
    {
        get
        {
            lock (gate)
            {
                return samples == 0 || clock.GetElapsedTime(lastTransfer) >= IdleProbeAfter;
            }
        }
    }

    public LinkEstimate Current
    {
        get
        {
            lock (gate)
            {
                var since = clock.GetElapsedTime(lastTransfer);
                return new LinkEstimate(Peer, rttMs, minRttMs, bytesPerSecond, samples, since, samples == 0 || since >= IdleProbeAfter);
            }
        }
    }
}

/// <summary>One <see cref="LinkEstimator"/> per peer, created on first use.</summary>
public sealed class LinkEstimators(double smoothing = 0.3, TimeSpan? idleProbeAfter = null, TimeProvider? clock = null)
{
    private readonly ConcurrentDictionary<string, LinkEstimator> links = new(StringComparer.Ordinal);

    public LinkEstimator For(string peer) => links.GetOrAdd(peer, p => new LinkEstimator(p, smoothing, idleProbeAfter, clock));

    public IReadOnlyList<LinkEstimate> All => [.. links.Values.Select(l => l.Current).OrderBy(l => l.Peer, StringComparer.Ordinal)];
}
