using CsCheck;

namespace EdgeSplit.Reports.Tests;

public sealed class ParetoTests
{
    private static bool Dominates(SweepPoint a, SweepPoint b) =>
        a.SequentialLatencyMs <= b.SequentialLatencyMs && a.PipelinedThroughputPerS >= b.PipelinedThroughputPerS
        && (a.SequentialLatencyMs < b.SequentialLatencyMs || a.PipelinedThroughputPerS > b.PipelinedThroughputPerS);

    private static List<int> BruteForceFront(IReadOnlyList<SweepPoint> points) =>
        Enumerable.Range(0, points.Count).Where(i => !points.Any(q => Dominates(q, points[i]))).ToList();

    [Fact]
    public void Pareto_front_matches_brute_force_on_random_points()
    {
        // Few distinct values on purpose: ties and exact duplicates are where a sweep goes wrong.
        var point = Gen.Select(Gen.Int[0, 8], Gen.Int[0, 8], Gen.Double[0, 100], Gen.Bool)
            .Select((latency, throughput, smooth, useSmooth) => useSmooth
                ? new SweepPoint("cut", smooth, 100 - smooth + latency)
                : new SweepPoint("cut", latency, throughput));
        point.Array[0, 40].Sample(points =>
        {
            var front = Pareto.Front(points);
            Assert.Equal(BruteForceFront(points), front.Order());
            // ordered by latency, as the plot draws it
            Assert.Equal(front.Select(i => points[i].SequentialLatencyMs).Order(), front.Select(i => points[i].SequentialLatencyMs));
        });
    }

    [Fact]
    public void Pareto_front_of_a_small_sweep_is_the_non_dominated_cuts()
    {
        SweepPoint[] points =
        [
            new("a", 10, 5), new("b", 20, 9), new("c", 15, 4), new("d", 20, 9), new("e", 30, 8), new("f", 12, 5),
        ];
        Assert.Equal(["a", "b", "d"], Pareto.Front(points).Select(i => points[i].Cut).Order());
    }

    [Fact]
    public void Pareto_front_refuses_non_finite_points()
    {
        Assert.Throws<ArgumentException>(() => Pareto.Front([new SweepPoint("x", double.NaN, 1)]));
    }
}
