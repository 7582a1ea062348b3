namespace EdgeSplit.Reports;

/// <summary>Whether a criterion was met; a missing baseline is said, never counted as a pass.</summary>
public enum Outcome
{
    Pass,
    FallsShort,
    NotMeasured,
}

/// <summary>One plain statement of the verdict, e.g. "p50 latency &lt;= 0.7x static".</summary>
public sealed record CriterionOutcome(string Criterion, Outcome Outcome, string Detail)
{
    public string OutcomeText => Outcome switch
    {
        Outcome.Pass => "PASS",
        Outcome.FallsShort => "FALLS SHORT",
        _ => "NOT MEASURED",
    };
}

/// <summary>The best adaptive strategy of one model set against static and the oracle.</summary>
public sealed record ModelVerdict(
    string Model,
    StrategyResult? BestAdaptive,
    StrategyResult? Static,
    StrategyResult? Oracle,
    double? P50VsStatic,
    double? P50VsOracle,
    double? EnergyVsStatic,
    IReadOnlyList<CriterionOutcome> Outcomes)
{
    public bool AllPass => Outcomes.All(o => o.Outcome == Outcome.Pass);

    public double? P95VsStatic { get; init; }

    /// <summary>Deadline misses (%) of the best adaptive strategy against static's; null when either was closed loop or static missed none.</summary>
    public double? MissesVsStatic { get; init; }
}

/// <summary>Computes the verdict of issue 6 from a run's results.</summary>
public static class Verdict
{
    /// <summary>One verdict per model, in the order models first appear in the results.</summary>
    public static IReadOnlyList<ModelVerdict> Evaluate(IReadOnlyList<StrategyResult> results, VerdictCriteria criteria)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(criteria);
        return results
            .Select(r => r.Model)
            .Distinct(StringComparer.Ordinal)
            .Select(model => EvaluateModel(model, results.Where(r => r.Model == model).ToList(), criteria))
            .ToList();
    }

    private static ModelVerdict EvaluateModel(string model, List<StrategyResult> results, VerdictCriteria criteria)
    {
        var adaptive = results.Where(r => r.Strategy.IsAdaptive()).ToList();
        var best = criteria.RankBy switch
        {
            RankBy.EnergyPerInference => adaptive.OrderBy(r => r.EnergyPerInferenceJ).ThenBy(r => r.P50Ms).FirstOrDefault(),
            _ => adaptive.OrderBy(r => r.P50Ms).ThenBy(r => r.EnergyPerInferenceJ).FirstOrDefault(),
        };
        var staticResult = results.FirstOrDefault(r => r.Strategy == Strategy.Static);
        var oracle = results.FirstOrDefault(r => r.Strategy == Strategy.Oracle);

        var p50VsStatic = Ratio(best?.P50Ms, staticResult?.P50Ms);
        var p50VsOracle = Ratio(best?.P50Ms, oracle?.P50Ms);
        var energyVsStatic = Ratio(best?.EnergyPerInferenceJ, staticResult?.EnergyPerInferenceJ);
        var p95VsStatic = Ratio(best?.P95Ms, staticResult?.P95Ms);
        var missesVsStatic = Ratio(best?.Frames?.MissPercent, staticResult?.Frames?.MissPercent);
        var rl = results.FirstOrDefault(r => r.Strategy == Strategy.Rl);
        var energyLabel = best?.EnergyEstimated == true || staticResult?.EnergyEstimated == true ? " (estimated)" : "";

        var outcomes = new List<CriterionOutcome>
        {
            RatioOutcome($"p50 latency <= {Fmt.X(criteria.MaxP50VsStatic)} static", p50VsStatic, criteria.MaxP50VsStatic,
                best, staticResult, "static", r => Fmt.Ms(r.P50Ms)),
            RatioOutcome($"p95 latency <= {Fmt.X(criteria.MaxP95VsStatic)} static", p95VsStatic, criteria.MaxP95VsStatic,
                best, staticResult, "static", r => Fmt.Ms(r.P95Ms)),
            MissesOutcome(criteria, missesVsStatic, best, staticResult),
            RatioOutcome($"p50 latency <= {Fmt.X(criteria.MaxP50VsOracle)} oracle", p50VsOracle, criteria.MaxP50VsOracle,
                best, oracle, "oracle", r => Fmt.Ms(r.P50Ms)),
            RatioOutcome($"energy per inference{energyLabel} <= {Fmt.X(criteria.MaxEnergyVsStatic)} static", energyVsStatic,
                criteria.MaxEnergyVsStatic, best, staticResult, "static", r => Fmt.J(r.EnergyPerInferenceJ)),
            best is null
                ? new CriterionOutcome($"{criteria.MaxFailed} failed requests", Outcome.NotMeasured, "no adaptive strategy was run")
                : new CriterionOutcome(
                    $"{criteria.MaxFailed} failed requests",
                    best.Failed <= criteria.MaxFailed ? Outcome.Pass : Outcome.FallsShort,
                    $"{best.Failed} of {best.Requests} failed"),
        };
        if (rl is not null)
        {
            outcomes.Add(RatioOutcome($"rl p95 latency <= {Fmt.X(criteria.MaxRlP95VsStatic)} static", Ratio(rl.P95Ms, staticResult?.P95Ms), criteria.MaxRlP95VsStatic,
                rl, staticResult, "static", r => Fmt.Ms(r.P95Ms)));
        }
        return new ModelVerdict(model, best, staticResult, oracle, p50VsStatic, p50VsOracle, energyVsStatic, outcomes)
        {
            P95VsStatic = p95VsStatic,
            MissesVsStatic = missesVsStatic,
        };
    }

    /// <summary>Deadline misses against static's: measured only for open-loop runs; when static missed none, only none passes.</summary>
    private static CriterionOutcome MissesOutcome(VerdictCriteria criteria, double? ratio, StrategyResult? best, StrategyResult? staticResult)
    {
        var criterion = $"deadline misses <= {Fmt.X(criteria.MaxMissesVsStatic)} static's";
        if (best?.Frames is not { } bestFrames || staticResult?.Frames is not { } staticFrames)
        {
            return new CriterionOutcome(criterion, Outcome.NotMeasured,
                best is null ? "no adaptive strategy was run"
                : staticResult is null ? "no static run to compare with"
                : "no open-loop camera run (frames with deadlines) to count misses");
        }
        var detail = $"{best.Strategy.Name()} {Fmt.Num(bestFrames.MissPercent)} % vs static {Fmt.Num(staticFrames.MissPercent)} %";
        if (ratio is null)
        {
            // Static missed none: only none is as good.
            return new CriterionOutcome(criterion, bestFrames.MissPercent <= 0 ? Outcome.Pass : Outcome.FallsShort, detail);
        }
        return new CriterionOutcome(criterion, ratio.Value <= criteria.MaxMissesVsStatic ? Outcome.Pass : Outcome.FallsShort, $"{Fmt.X(ratio.Value)}: {detail}");
    }

    private static CriterionOutcome RatioOutcome(
        string criterion, double? ratio, double max, StrategyResult? best, StrategyResult? baseline, string baselineName,
        Func<StrategyResult, string> figure)
    {
        if (best is null)
        {
            return new CriterionOutcome(criterion, Outcome.NotMeasured, "no adaptive strategy was run");
        }
        if (baseline is null)
        {
            return new CriterionOutcome(criterion, Outcome.NotMeasured, $"no {baselineName} run to compare with");
        }
        if (ratio is null)
        {
            return new CriterionOutcome(criterion, Outcome.NotMeasured, $"{baselineName} figure is zero or not finite");
        }
        var detail = $"{Fmt.X(ratio.Value)}: {best.Strategy.Name()} {figure(best)} vs {baselineName} {figure(baseline)}";
        return new CriterionOutcome(criterion, ratio.Value <= max ? Outcome.Pass : Outcome.FallsShort, detail);
    }

    private static double? Ratio(double? value, double? baseline) =>
        value is { } v && baseline is { } b && b > 0 && double.IsFinite(v) && double.IsFinite(b) ? v / b : null;
}
