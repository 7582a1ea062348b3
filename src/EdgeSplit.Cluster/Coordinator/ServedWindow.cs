using EdgeSplit.Cluster.Contracts;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// The requests the coordinator answered recently (the last <c>span</c>, at most <c>capacity</c>), stamped on its
/// clock: Status's rolling latency window, from which the dashboard draws p50, p95, requests per second and energy per frame.
/// </summary>
internal sealed class ServedWindow(TimeProvider time, TimeSpan span, int capacity)
{
    private readonly Lock _gate = new();
    private readonly Queue<ServedSample> _samples = new();
    private long _sequence;

    public void Add(double latencyMs, double energyJ, long planVersion)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            _samples.Enqueue(new ServedSample(++_sequence, now, latencyMs, energyJ, planVersion));
            Trim(now);
        }
    }

    /// <summary>The window now, oldest first.</summary>
    public IReadOnlyList<ServedSample> Snapshot()
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            Trim(now);
            return [.. _samples];
        }
    }

    private void Trim(DateTimeOffset now)
    {
        while (_samples.Count > 0 && (_samples.Count > capacity || now - _samples.Peek().Time > span))
        {
            _samples.Dequeue();
        }
    }
}
