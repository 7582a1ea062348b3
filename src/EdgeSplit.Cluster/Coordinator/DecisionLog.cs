using EdgeSplit.Cluster.Contracts;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// The coordinator's one decision log: every decision a plan source made, stamped on the coordinator's
/// clock, counted by reason and timed; quiet decisions (nothing moved) go to the debug level.
/// </summary>
internal sealed class DecisionLog(AdaptationInfo? info, TimeProvider time, ILogger logger)
{
    private const int RecentCapacity = 64;
    private readonly Lock _gate = new();
    private readonly Queue<DecisionRecord> _recent = new();
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
    private long _decisions, _switches, _observed;
    private double _lastMs, _totalMs;

    /// <summary>Raised after each decision is logged.</summary>
    public event Action? Added;

    public void Add(DecisionRecord? record)
    {
        if (record is null)
        {
            return;
        }
        record = record with { Time = time.GetUtcNow() };
        lock (_gate)
        {
            _decisions++;
            _lastMs = record.DecisionMs;
            _totalMs += record.DecisionMs;
            _counts[record.Reason] = _counts.GetValueOrDefault(record.Reason) + 1;
            _switches += record.Switched ? 1 : 0;
            _recent.Enqueue(record);
            while (_recent.Count > RecentCapacity)
            {
                _recent.Dequeue();
            }
        }
        var level = record.Switched || record.Reason is not ("ConditionsUnchanged" or "SamePlan") ? LogLevel.Information : LogLevel.Debug;
        logger.Log(level, "adaptation [{Planner}] {Reason}, switch={Switched}: {Detail}; old {Old} ({OldValue:G4}) new {New} ({NewValue:G4}), predicted gain {Gain:G4}, decided in {Ms:F3} ms",
            info?.Planner ?? "-", record.Reason, record.Switched, record.Detail, record.OldPlan ?? "-", record.OldValue, record.Plan, record.NewValue, record.PredictedGain, record.DecisionMs);
        Added?.Invoke();
    }

    public void CountServed() => Interlocked.Increment(ref _observed);

    /// <summary>The log as Status shows it; null for a source that does not adapt.</summary>
    public AdaptationStatus? Status()
    {
        if (info is null)
        {
            return null;
        }
        lock (_gate)
        {
            return new AdaptationStatus(info.Planner, info.Objective, info.CostCorrection, new Dictionary<string, long>(_counts, StringComparer.Ordinal),
                _decisions, _switches, [.. _recent], _lastMs, _decisions > 0 ? _totalMs / _decisions : 0, Interlocked.Read(ref _observed));
        }
    }
}
