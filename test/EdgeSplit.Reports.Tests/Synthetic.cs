namespace EdgeSplit.Reports.Tests;

/// <summary>
/// Made-up bench results for testing the writer, not the system: shapes like a real run (events that hurt
/// static, adaptive strategies recovering) but every number comes from a seeded random generator.
/// </summary>
internal static class Synthetic
{
    public static readonly IReadOnlyList<ScenarioEvent> Events =
    [
        new(15, "laptop link drops to 5 Mbit/s"),
        new(30, "jetson-nano CPU load 80 %"),
        new(45, "laptop lost"),
    ];

    /// <summary>Base p50 latency in ms per strategy; static degrades after events, adaptive recovers.</summary>
    private static readonly Dictionary<Strategy, double> BaseMs = new()
    {
        [Strategy.Single] = 95,
        [Strategy.Static] = 40,
        [Strategy.Greedy] = 34,
        [Strategy.Optimal] = 27,
        [Strategy.Rl] = 25,
        [Strategy.Oracle] = 23,
        [Strategy.Tiles] = 26,
        [Strategy.PytorchRpc] = 48,
    };

    public static BenchReport Run(int seed = 1, double durationS = 60, double requestsPerS = 10, params string[] models)
    {
        models = models.Length == 0 ? ["mobilenetv2"] : models;
        var results = new List<StrategyResult>();
        foreach (var (model, m) in models.Select((m, i) => (m, i)))
        {
            foreach (var strategy in Enum.GetValues<Strategy>())
            {
                results.Add(Result(model, strategy, new Random(seed * 100 + m * 10 + (int)strategy), durationS, requestsPerS, 1 + m * 0.8));
            }
        }
        return new BenchReport(
            Title: "EdgeSplit bench: synthetic results (writer test)",
            Testbed: "three-device (rpi4, jetson-nano, laptop)",
            Scenario: "mixed",
            Objective: "latency",
            Emulated: true,
            Host: "synthetic numbers, no host measured",
            Results: results,
            Events: Events,
            Criteria: VerdictCriteria.Default,
            ClosingNote: "Synthetic numbers: this report tests the writer, not EdgeSplit.");
    }

    private static StrategyResult Result(string model, Strategy strategy, Random random, double durationS, double requestsPerS, double scale)
    {
        var samples = new List<LatencySample>();
        var count = (int)(durationS * requestsPerS);
        for (var i = 0; i < count; i++)
        {
            var t = i / requestsPerS;
            var latency = BaseMs[strategy] * scale * Slowdown(strategy, t) * (0.9 + 0.25 * random.NextDouble());
            if (random.NextDouble() < 0.02)
            {
                latency *= 1.8; // occasional tail request
            }
            samples.Add(new LatencySample(t, latency));
        }
        var summary = LatencySummary.Of(samples.Select(s => s.LatencyMs));
        var p50 = summary.P50Ms;
        var energyPerMs = strategy == Strategy.Single ? 0.012 : 0.008;
        return new StrategyResult(
            model, strategy, p50, summary.P95Ms, summary.P99Ms,
            ThroughputPerS: 1000 / p50 * (strategy == Strategy.Single ? 1 : 2.2),
            EnergyPerInferenceJ: p50 * energyPerMs,
            EnergyEstimated: true,
            Failed: 0,
            Repartitions: strategy.IsAdaptive() || strategy == Strategy.Oracle ? 3 + random.Next(4) : 0,
            DecisionMs: strategy.IsAdaptive() ? 0.5 + random.NextDouble() : 0,
            SwitchMs: strategy.IsAdaptive() ? 40 + 20 * random.NextDouble() : 0,
            Requests: count,
            Devices:
            [
                new DeviceUsage("rpi4", 40 + 30 * random.NextDouble(), 180 + 40 * random.NextDouble()),
                .. strategy == Strategy.Single ? Array.Empty<DeviceUsage>() :
                [
                    new DeviceUsage("jetson-nano", 30 + 30 * random.NextDouble(), 300 + 50 * random.NextDouble()),
                    new DeviceUsage("laptop", 10 + 20 * random.NextDouble(), 500 + 80 * random.NextDouble()),
                ],
            ],
            Latencies: samples);
    }

    /// <summary>How much slower a strategy is at time t: static never adapts, adaptive ones spike then recover.</summary>
    private static double Slowdown(Strategy strategy, double t)
    {
        var factor = 1.0;
        foreach (var e in Events)
        {
            if (t < e.TSeconds)
            {
                continue;
            }
            var since = t - e.TSeconds;
            factor *= strategy switch
            {
                Strategy.Static => 1.35,
                Strategy.Single => 1.0,
                Strategy.Oracle => 1.05,
                _ => since < 2 ? 1.6 : 1.08,
            };
        }
        return factor;
    }

    /// <summary>Made-up cuts: latency grows with what crosses the link, throughput with how evenly stages split.</summary>
    public static SweepReport Sweep(int seed = 1, int cuts = 24)
    {
        var random = new Random(seed);
        var points = Enumerable.Range(1, cuts)
            .Select(i => new SweepPoint(
                $"after node {i * 4} (conv{i})",
                SequentialLatencyMs: 30 + 40 * random.NextDouble() + 2 * Math.Abs(i - cuts / 2.0),
                PipelinedThroughputPerS: 20 + 25 * random.NextDouble()))
            .ToList();
        return new SweepReport(
            "EdgeSplit sweep: synthetic cuts (writer test)", "mobilenetv2", "two-device (rpi4, laptop)",
            Emulated: true, Host: "synthetic numbers, no host measured", points,
            ClosingNote: "Synthetic numbers: this report tests the writer, not EdgeSplit.");
    }

    /// <summary>Made-up Table 4.1: six models on three profiles, the rpi4 slowest.</summary>
    public static Table41Report Table41()
    {
        (string Model, long Parameters, double SizeMb, double LaptopMs)[] models =
        [
            ("mobilenetv2", 3_504_872, 13.6, 9),
            ("resnet18", 11_689_512, 44.7, 21),
            ("resnet50", 25_557_032, 97.8, 48),
            ("vgg16", 138_357_544, 527.8, 160),
            ("squeezenet", 1_235_496, 4.8, 6),
            ("efficientnet-b0", 5_288_548, 20.4, 14),
        ];
        var rows = models.Select(m => new Table41Row(
            m.Model, m.Parameters, m.SizeMb,
            [new("rpi4", m.LaptopMs * 9.5), new("jetson-nano", m.LaptopMs * 3.2), new("laptop", m.LaptopMs)],
            PeakMemoryMb: m.SizeMb * 1.6 + 60)).ToList();
        return new Table41Report(
            "EdgeSplit Table 4.1: synthetic numbers (writer test)", "three-device (rpi4, jetson-nano, laptop)",
            Emulated: true, Host: "synthetic numbers, no host measured", rows,
            ClosingNote: "Synthetic numbers: this report tests the writer, not EdgeSplit.");
    }
}
