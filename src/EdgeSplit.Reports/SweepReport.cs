namespace EdgeSplit.Reports;

/// <summary>One candidate cut measured sequentially (one request at a time) and pipelined (requests overlapping).</summary>
public sealed record SweepPoint(string Cut, double SequentialLatencyMs, double PipelinedThroughputPerS)
{
    /// <summary>The runtime that served it: EdgeSplit's own, or another measured beside it (pytorch-rpc).</summary>
    public string Runtime { get; init; } = SweepRuntimes.EdgeSplit;
}

/// <summary>The runtimes a sweep can measure, as written on the command line and in sweep.csv.</summary>
public static class SweepRuntimes
{
    public const string EdgeSplit = "edgesplit";
    public const string PyTorchRpc = "pytorch-rpc";

    public static IReadOnlyList<string> All { get; } = [EdgeSplit, PyTorchRpc];
}

/// <summary>Every candidate cut of one model on one testbed, for `edgesplit bench --sweep`.</summary>
public sealed record SweepReport(
    string Title,
    string Model,
    string Testbed,
    bool Emulated,
    string Host,
    IReadOnlyList<SweepPoint> Points,
    string? ClosingNote = null);

/// <summary>The cuts no other cut beats on both latency (lower) and throughput (higher).</summary>
public static class Pareto
{
    /// <summary>Each runtime's own front (<see cref="Front"/> over its points), as indices into <paramref name="points"/>, runtimes in order of first appearance.</summary>
    public static IReadOnlyList<(string Runtime, IReadOnlyList<int> Front)> FrontsByRuntime(IReadOnlyList<SweepPoint> points) =>
        [.. points.Select((p, i) => (p, i)).GroupBy(x => x.p.Runtime).Select(g =>
        {
            var indices = g.Select(x => x.i).ToList();
            return (g.Key, (IReadOnlyList<int>)[.. Front([.. indices.Select(i => points[i])]).Select(k => indices[k])]);
        })];

    /// <summary>
    /// Indices into <paramref name="points"/> of the non-dominated points, ordered by latency. A point is dominated
    /// when another has latency at most and throughput at least as good, and is strictly better in one; equal
    /// points are both on the front.
    /// </summary>
    public static IReadOnlyList<int> Front(IReadOnlyList<SweepPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Any(p => !double.IsFinite(p.SequentialLatencyMs) || !double.IsFinite(p.PipelinedThroughputPerS)))
        {
            throw new ArgumentException("sweep points must have finite latency and throughput", nameof(points));
        }
        // Sorted by latency, then best throughput first: only earlier points can dominate a later one.
        var order = Enumerable.Range(0, points.Count)
            .OrderBy(i => points[i].SequentialLatencyMs)
            .ThenByDescending(i => points[i].PipelinedThroughputPerS)
            .ToList();
        var front = new List<int>();
        var bestThroughput = double.NegativeInfinity;
        var latencyAtBest = double.NaN;
        foreach (var i in order)
        {
            var p = points[i];
            if (p.PipelinedThroughputPerS > bestThroughput)
            {
                front.Add(i);
                bestThroughput = p.PipelinedThroughputPerS;
                latencyAtBest = p.SequentialLatencyMs;
            }
            else if (p.PipelinedThroughputPerS == bestThroughput && p.SequentialLatencyMs == latencyAtBest)
            {
                front.Add(i); // an exact duplicate of a front point is not dominated by it
            }
        }
        return front;
    }
}
