using System.Collections.Concurrent;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Runtime.Codec;

namespace EdgeSplit.Cluster.Agent;

/// <summary>
/// Holds the parts of each request a joining hop waits for (a tile group's gather: one part per
/// tile) until all have arrived, then gives back one request with every part's tensors. A part
/// set never completed (a tile's device died, the attempt was retried under a new id) is dropped
/// once its deadline has passed, so nothing waits forever and memory stays bounded.
/// </summary>
internal sealed class PartJoin(int parts, string device, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, List<StageWork>> _waiting = new(StringComparer.Ordinal);

    public int Parts { get; } = parts;

    /// <summary>Requests with some parts still missing.</summary>
    public int Waiting => _waiting.Count;

    /// <summary>Adds one part; returns the joined request when it was the last one, else null.</summary>
    public StageWork? Add(StageWork part)
    {
        DropExpired();
        var id = part.Request.RequestId;
        var list = _waiting.GetOrAdd(id, _ => new List<StageWork>(Parts));
        List<StageWork> complete;
        lock (list)
        {
            if (list.Any(p => p.Request.Tensors.Any(t => part.Request.Tensors.Any(u => u.Name == t.Name))))
            {
                throw new ClusterException(FailureKind.BadRequest, $"request {id} sent a part twice (tensor names repeat)");
            }
            list.Add(part);
            if (list.Count < Parts)
            {
                return null;
            }
            complete = [.. list];
            _waiting.TryRemove(id, out _);
        }
        return Joined(complete);
    }

    /// <summary>
    /// One request with every part's tensors. The transfer that counts is the last part's (the one
    /// the gather waited for); the earlier parts' transfers are kept as timings with no compute,
    /// so the coordinator still sees every link the tiles crossed.
    /// </summary>
    private StageWork Joined(List<StageWork> parts)
    {
        var last = parts[^1];
        var tensors = new List<WireTensor>();
        var timings = new List<HopTiming>();
        foreach (var part in parts)
        {
            tensors.AddRange(part.Request.Tensors);
            foreach (var timing in part.Request.Timings)
            {
                // Every tile's part carries the scatter hop's timing: keep it once.
                if (!timings.Any(t => t.Hop == timing.Hop && t.Device == timing.Device))
                {
                    timings.Add(timing);
                }
            }
        }
        foreach (var part in parts.Take(parts.Count - 1))
        {
            timings.Add(new HopTiming(part.Request.Hop, device, 0, part.BytesIn, part.TransferInMs, part.Request.FromDevice));
        }
        var request = last.Request with { Tensors = tensors, Timings = timings };
        return new StageWork(request, parts.Sum(p => p.BytesIn), last.TransferInMs);
    }

    private void DropExpired()
    {
        if (_waiting.IsEmpty)
        {
            return;
        }
        var now = time.GetUtcNow();
        foreach (var (id, list) in _waiting)
        {
            bool expired;
            lock (list)
            {
                expired = list.Count > 0 && list[0].Request.Deadline < now;
            }
            if (expired)
            {
                _waiting.TryRemove(id, out _);
            }
        }
    }
}
