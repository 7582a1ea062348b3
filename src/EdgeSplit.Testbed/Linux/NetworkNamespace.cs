using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EdgeSplit.Testbed.Linux;

/// <summary>
/// Creates sockets inside a named network namespace from this process: a fresh thread joins the
/// namespace with setns(2), makes the socket, and leaves; the socket stays in that namespace for
/// its whole life and can then be used from any thread. Needs CAP_SYS_ADMIN (root).
/// </summary>
internal static class NetworkNamespace
{
    private const int CloneNewNet = 0x40000000;

    public static Socket CreateSocket(string name, Func<Socket> create)
    {
        Socket? socket = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                socket = CreateOnThisThread(name, create);
            }
            catch (Exception ex)
            {
                error = ex;
            }
        });
        thread.Start();
        thread.Join();
        return error is null ? socket! : throw new TestbedException($"cannot open a socket in network namespace {name}: {error.Message}", error);
    }

    private static Socket CreateOnThisThread(string name, Func<Socket> create)
    {
        using var target = File.OpenHandle($"/var/run/netns/{name}");
        using var home = File.OpenHandle("/proc/thread-self/ns/net");
        if (setns(target.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
        {
            throw new TestbedException($"setns into {name} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            return create();
        }
        finally
        {
            if (setns(home.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
            {
                // A thread stuck in the wrong namespace must not go back to a pool: this one is ours and ends here.
                Environment.FailFast("could not return to the original network namespace");
            }
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);
}
