namespace EdgeSplit.Testbed.Backends;

/// <summary>Runs an action once, when first disposed: the end of a scenario load.</summary>
internal sealed class DisposeAction(Action action) : IDisposable
{
    private int done;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref done, 1) == 0)
        {
            action();
        }
    }
}
