namespace EdgeSplit.Reports.Tests;

public sealed class VerdictTests
{
    /// <summary>A result with only the figures the verdict reads; the rest are synthetic fillers.</summary>
    private static StrategyResult Result(Strategy strategy, double p50Ms, double energyJ, int failed = 0, string model = "m") =>
        new(model, strategy, p50Ms, p50Ms * 1.5, p50Ms * 2, 1000 / p50Ms, energyJ, EnergyEstimated: true, failed,
            Repartitions: 0, DecisionMs: 0, SwitchMs: 0, Requests: 100, Devices: [], Latencies: [new(0, p50Ms), new(1, p50Ms * 1.1)]);

    private static BenchReport Report(params StrategyResult[] results) =>
        new("t", "tb", "mixed", "latency", Emulated: true, "host", results, [], VerdictCriteria.Default);

    [Fact]
    public void Verdict_says_falls_short_when_adaptive_p50_misses_0_7x_static_with_synthetic_results()
    {
        // rl at 0.8x static: better than static, but not by the 0.7x asked.
        var verdict = Verdict.Evaluate(
            [Result(Strategy.Static, 100, 1.0), Result(Strategy.Rl, 80, 0.5), Result(Strategy.Oracle, 75, 0.4)],
            VerdictCriteria.Default).Single();

        Assert.Equal(Strategy.Rl, verdict.BestAdaptive!.Strategy);
        Assert.Equal(0.8, verdict.P50VsStatic!.Value, 9);
        // p50 and p95 vs static fall short; misses need an open-loop camera run; oracle, energy, failures and rl's p95 pass.
        Assert.Equal(
            [Outcome.FallsShort, Outcome.FallsShort, Outcome.NotMeasured, Outcome.Pass, Outcome.Pass, Outcome.Pass, Outcome.Pass],
            verdict.Outcomes.Select(o => o.Outcome));
        Assert.False(verdict.AllPass);
    }

    [Fact]
    public void Verdict_says_falls_short_for_oracle_energy_and_failures_when_they_miss_with_synthetic_results()
    {
        var verdict = Verdict.Evaluate(
            [Result(Strategy.Static, 100, 1.0), Result(Strategy.Optimal, 60, 0.9, failed: 2), Result(Strategy.Oracle, 50, 0.4)],
            VerdictCriteria.Default).Single();

        // No rl run: no criterion for rl's p95.
        Assert.Equal(
            [Outcome.Pass, Outcome.Pass, Outcome.NotMeasured, Outcome.FallsShort, Outcome.FallsShort, Outcome.FallsShort],
            verdict.Outcomes.Select(o => o.Outcome));
        Assert.Equal(1.2, verdict.P50VsOracle!.Value, 9);
    }

    [Fact]
    public void Best_adaptive_is_the_lowest_p50_among_greedy_optimal_and_rl_with_synthetic_results()
    {
        var verdict = Verdict.Evaluate(
            [
                Result(Strategy.Static, 100, 1.0), Result(Strategy.Greedy, 65, 0.7), Result(Strategy.Optimal, 55, 0.75),
                Result(Strategy.Rl, 60, 0.6), Result(Strategy.Oracle, 50, 0.5), Result(Strategy.Single, 40, 2.0),
            ],
            VerdictCriteria.Default).Single();
        Assert.Equal(Strategy.Optimal, verdict.BestAdaptive!.Strategy);

        var byEnergy = Verdict.Evaluate(
            [Result(Strategy.Static, 100, 1.0), Result(Strategy.Optimal, 55, 0.75), Result(Strategy.Rl, 60, 0.6)],
            VerdictCriteria.Default with { RankBy = RankBy.EnergyPerInference }).Single();
        Assert.Equal(Strategy.Rl, byEnergy.BestAdaptive!.Strategy);
    }

    [Fact]
    public void Verdict_says_not_measured_when_a_baseline_is_missing_with_synthetic_results()
    {
        var verdict = Verdict.Evaluate([Result(Strategy.Rl, 60, 0.6), Result(Strategy.Oracle, 58, 0.5)], VerdictCriteria.Default).Single();
        Assert.Equal(
            [Outcome.NotMeasured, Outcome.NotMeasured, Outcome.NotMeasured, Outcome.Pass, Outcome.NotMeasured, Outcome.Pass, Outcome.NotMeasured],
            verdict.Outcomes.Select(o => o.Outcome));
        Assert.False(verdict.AllPass);
    }

    [Fact]
    public void Report_states_falls_short_plainly_when_a_ratio_misses_with_synthetic_results()
    {
        using var temp = new TempDirectory();
        var report = Report(Result(Strategy.Static, 100, 1.0), Result(Strategy.Rl, 80, 0.5), Result(Strategy.Oracle, 75, 0.4)) with
        {
            ClosingNote = "The link never dropped far enough for a re-split to pay off.",
        };
        var files = ReportWriter.Write(report, Path.Combine(temp.Path, "out"));
        var text = File.ReadAllText(files.ReportMarkdown);
        var verdictSection = text[..text.IndexOf("## Setup", StringComparison.Ordinal)];

        Assert.Contains("| m | rl | 0.80x | 0.80x | n/a | 1.07x | 0.50x | 0 |", verdictSection);
        Assert.Contains("- p50 latency <= 0.70x static: **FALLS SHORT** (0.80x: rl 80.0 ms vs static 100 ms)", verdictSection);
        Assert.Contains("- p50 latency <= 1.15x oracle: **PASS**", verdictSection);
        Assert.Contains("**3 of 7 criteria do not pass** (falling short: 2, not measured: 1)", verdictSection);
        Assert.Contains("> The link never dropped far enough", verdictSection);
    }

    [Fact]
    public void Report_says_all_criteria_pass_only_when_they_do_with_synthetic_results()
    {
        using var temp = new TempDirectory();
        // Open-loop camera runs: rl missed 2 % of its frames' deadlines, static 10 %.
        var report = Report(
            Result(Strategy.Static, 100, 1.0) with { Frames = Camera(missPercent: 10) },
            Result(Strategy.Rl, 60, 0.5) with { Frames = Camera(missPercent: 2) },
            Result(Strategy.Oracle, 55, 0.4) with { Frames = Camera(missPercent: 1) });
        var text = File.ReadAllText(ReportWriter.Write(report, Path.Combine(temp.Path, "out")).ReportMarkdown);
        Assert.Contains("All 7 criteria pass.", text);
        Assert.DoesNotContain("FALLS SHORT", text);
        var misses = text.Split('\n').Single(l => l.StartsWith("- deadline misses", StringComparison.Ordinal));
        Assert.Equal("- deadline misses <= 0.50x static's: **PASS** (0.20x: rl 2.00 % vs static 10.0 %)", misses);
    }

    [Fact]
    public void Deadline_misses_pass_against_a_static_that_missed_none_only_when_none_are_missed_with_synthetic_results()
    {
        Outcome Misses(double rlMissPercent) => Verdict.Evaluate(
            [
                Result(Strategy.Static, 100, 1.0) with { Frames = Camera(missPercent: 0) },
                Result(Strategy.Rl, 60, 0.5) with { Frames = Camera(missPercent: rlMissPercent) },
            ],
            VerdictCriteria.Default).Single().Outcomes.Single(o => o.Criterion.StartsWith("deadline misses", StringComparison.Ordinal)).Outcome;

        Assert.Equal(Outcome.Pass, Misses(0));
        Assert.Equal(Outcome.FallsShort, Misses(0.5));
    }

    /// <summary>A camera run's frame figures with only the miss rate the verdict reads set to something chosen.</summary>
    private static FrameFigures Camera(double missPercent) =>
        new(Fps: 15, DeadlineMs: 200, MaxInFlight: 3, Captured: 1000, Late: (int)(missPercent * 10), Dropped: 0, Failed: 0, MissPercent: missPercent, AchievedFps: 15 * (1 - (missPercent / 100)));

    [Fact]
    public void A_strategy_that_served_nothing_still_gets_a_row_and_plots_with_synthetic_results()
    {
        using var temp = new TempDirectory();
        var report = Report(
            Result(Strategy.Static, 100, 1.0),
            Result(Strategy.Rl, 60, 0.5) with { Failed = 100, Latencies = [] },
            Result(Strategy.Oracle, 55, 0.4));
        var files = ReportWriter.Write(report, Path.Combine(temp.Path, "out"));
        var text = File.ReadAllText(files.ReportMarkdown);
        Assert.Contains("- 0 failed requests: **FALLS SHORT** (100 of 100 failed)", text);
        Assert.Equal(5, files.Files.Count(f => f.EndsWith(".png", StringComparison.Ordinal)));
    }
}
