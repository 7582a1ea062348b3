namespace EdgeSplit.Cluster.Transport;

/// <summary>
/// A token cancelled by the caller's token or after a timeout measured on the injected
/// <see cref="TimeProvider"/>: a test advancing a fake clock fires it, a dilated testbed stretches it.
/// </summary>
public sealed class TimeoutScope : IDisposable
{
    private readonly CancellationTokenSource _timeout;
    private readonly CancellationTokenSource _linked;

    public TimeoutScope(TimeProvider time, TimeSpan timeout, CancellationToken ct)
    {
        _timeout = timeout == Timeout.InfiniteTimeSpan ? new CancellationTokenSource() : new CancellationTokenSource(timeout, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _timeout.Token);
    }

    public CancellationToken Token => _linked.Token;

    /// <summary>True when the timeout, not the caller, cancelled the token.</summary>
    public bool TimedOut => _timeout.IsCancellationRequested;

    public void Dispose()
    {
        _linked.Dispose();
        _timeout.Dispose();
    }
}
