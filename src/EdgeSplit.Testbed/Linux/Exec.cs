using System.Diagnostics;

namespace EdgeSplit.Testbed.Linux;

/// <summary>A host command (ip, tc, a cgroup write) failed: the environment, not a bug. The CLI prints it as one error line.</summary>
public sealed class TestbedException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>Runs the host tools the testbed drives (<c>ip</c>, <c>tc</c>) and reports their stderr on failure.</summary>
internal static class Exec
{
    public static (int Exit, string Stdout, string Stderr) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        try
        {
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill(entireProcessTree: true);
                throw new TestbedException($"'{file} {string.Join(' ', args)}' did not finish in 30 s");
            }
            return (process.ExitCode, stdout.Result, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new TestbedException($"cannot run '{file}' ({ex.Message}); install iproute2 (ip, tc) or run without root for the loopback fallback", ex);
        }
    }

    /// <summary>Runs and throws a <see cref="TestbedException"/> naming the command and its stderr if it fails.</summary>
    public static string Check(string file, params string[] args)
    {
        var (exit, stdout, stderr) = Run(file, args);
        if (exit != 0)
        {
            throw new TestbedException($"'{file} {string.Join(' ', args)}' failed: {stderr.Trim()}");
        }
        return stdout;
    }

    /// <summary>For cleanup: runs and ignores failure (the thing may already be gone).</summary>
    public static bool Try(string file, params string[] args) => Run(file, args).Exit == 0;

    public static bool IsRoot => Environment.UserName == "root" || GetEuid() == 0;

    public static bool ProcessAlive(int pid)
    {
        // A zombie still has a /proc entry; it is dead for our purposes.
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat))
        {
            return false;
        }
        try
        {
            var text = File.ReadAllText(stat);
            var state = text[(text.LastIndexOf(')') + 2)..].Split(' ')[0];
            return state != "Z" && state != "X";
        }
        catch (IOException)
        {
            return false;
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEuidNative();

    private static uint GetEuid()
    {
        try
        {
            return GetEuidNative();
        }
        catch (DllNotFoundException)
        {
            return uint.MaxValue;
        }
    }
}
