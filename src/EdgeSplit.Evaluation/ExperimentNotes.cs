using EdgeSplit.Reports;

namespace EdgeSplit.Evaluation;

/// <summary>What the report's closing note says about why a verdict falls short, from what the strategies actually did.</summary>
internal static class ExperimentNotes
{
    /// <summary>Says plainly why a criterion falls short, from what the strategies actually did.</summary>
    public static IEnumerable<string> Explain(IReadOnlyList<StrategyResult> results, Dictionary<(string Model, Strategy Strategy), IReadOnlyList<(string Placement, double Share)>> placements)
    {
        foreach (var verdict in Verdict.Evaluate(results, VerdictCriteria.Default))
        {
            if (verdict.BestAdaptive is not { } best) continue;
            if (best.Frames is null && verdict.Static is { } baseline && best.ThroughputPerS < 0.8 * baseline.ThroughputPerS)
            {
                // With a closed-loop client, a strategy whose slow requests hold workers leaves the others less queueing:
                // its median looks better while it serves far less.
                yield return $"Caution for {verdict.Model}: the best adaptive strategy by p50 ({best.Strategy.Name()}) served {best.ThroughputPerS:0.0}/s against static's " +
                    $"{baseline.ThroughputPerS:0.0}/s with p95 {best.P95Ms:0} ms vs {baseline.P95Ms:0} ms; under the closed-loop client its slow requests hold workers, " +
                    "so the others queue less and its median flatters it. Read its p50 ratio with that in mind.";
            }
            if (verdict.AllPass) continue;
            var failing = string.Join(", ", verdict.Outcomes.Where(o => o.Outcome != Outcome.Pass).Select(o => $"{o.Criterion} ({o.OutcomeText.ToLowerInvariant()})"));
            var text = $"Why {verdict.Model} falls short ({failing}): ";
            var staticTop = placements.GetValueOrDefault((verdict.Model, Strategy.Static))?.FirstOrDefault();
            var oracleShares = placements.GetValueOrDefault((verdict.Model, Strategy.Oracle));
            if (staticTop is { } top && oracleShares is not null)
            {
                var oracleSame = oracleShares.Where(p => p.Placement == top.Placement).Sum(p => p.Share);
                text += $"the oracle (the cost model's best plan for each window's true conditions) served {oracleSame:P0} of its requests with static's placement {top.Placement}" +
                    (oracleSame >= 0.5
                        ? ", so in this testbed and scenario even perfect adaptation has little to gain over static, and the gaps between static, optimal and oracle are mostly run-to-run noise " +
                          "of a shared host (the same placement measured in different runs). "
                        : $"; the oracle itself reached p50 {Fmt(verdict.Oracle?.P50Ms)} ms, p95 {Fmt(verdict.Oracle?.P95Ms)} ms against static's {Fmt(verdict.Static?.P50Ms)} / {Fmt(verdict.Static?.P95Ms)} ms, " +
                          "which bounds what any adaptive strategy could gain here. ");
            }
            else
            {
                text += "no oracle or static run to compare placements with. ";
            }
            if (best.Strategy == Strategy.Rl)
            {
                text += $"rl explored {best.Repartitions} re-partitions; its exploration of poor plans shows in its tail (p99 {best.P99Ms:0} ms). ";
            }
            text += "The scenario was not tuned to the planners.";
            yield return text;
        }
    }

    private static string Fmt(double? ms) => ms is { } v && double.IsFinite(v) ? v.ToString("0", System.Globalization.CultureInfo.InvariantCulture) : "n/a";
}
