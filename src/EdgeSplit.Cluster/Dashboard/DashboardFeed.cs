using EdgeSplit.Cluster.Contracts;

namespace EdgeSplit.Cluster.Dashboard;

/// <summary>
/// The coordinator a dashboard shows: whichever follows the feed now. <c>serve</c>'s coordinator follows its own
/// feed; <c>demo</c> and <c>bench</c> keep one dashboard up for the whole run and each strategy's coordinator
/// follows it while it serves (<c>CoordinatorOptions.Dashboard</c>), so the page stays at one address.
/// </summary>
public sealed class DashboardFeed
{
    private readonly Lock _gate = new();
    private Following? _current;
    private long _generation;
    private volatile string? _label;

    /// <summary>What the page shows beside the model's name, e.g. the strategy a bench runs now; null for nothing.</summary>
    public string? Label
    {
        get => _label;
        set => _label = value;
    }

    /// <summary>
    /// Shows <paramref name="status"/> from now on, in place of whatever the feed showed; disposing the result stops
    /// showing it (unless another coordinator followed meanwhile). <paramref name="time"/> is that coordinator's clock.
    /// </summary>
    public IDisposable Follow(Func<CoordinatorStatus> status, TimeProvider time)
    {
        lock (_gate)
        {
            _current = new Following(this, status, time, ++_generation);
            return _current;
        }
    }

    /// <summary>The coordinator shown now (null between two runs), and its generation: a new one means another coordinator.</summary>
    internal Following? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    private void Stop(Following following)
    {
        lock (_gate)
        {
            if (_current == following)
            {
                _current = null;
            }
        }
    }

    /// <summary>One coordinator the feed follows.</summary>
    internal sealed class Following(DashboardFeed feed, Func<CoordinatorStatus> status, TimeProvider time, long generation) : IDisposable
    {
        public Func<CoordinatorStatus> Status { get; } = status;

        public TimeProvider Time { get; } = time;

        public long Generation { get; } = generation;

        public void Dispose() => feed.Stop(this);
    }
}
