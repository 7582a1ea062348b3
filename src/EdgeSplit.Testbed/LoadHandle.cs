using System.Diagnostics;

namespace EdgeSplit.Testbed;

/// <summary>A scenario load: its process, if it has one (ours, ended on dispose), and what to undo.</summary>
internal sealed class LoadHandle(Process? process, Action undo) : IDisposable
{
    private int disposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }
        if (process is not null)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            process.Dispose();
        }
        undo();
    }
}
