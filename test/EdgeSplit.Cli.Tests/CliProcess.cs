using System.Diagnostics;

namespace EdgeSplit.Cli.Tests;

/// <summary>What one run of the real <c>edgesplit</c> executable printed and returned.</summary>
internal sealed record CliResult(int ExitCode, string StdOut, string StdErr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{StdOut}\nstderr:\n{StdErr}";
}

/// <summary>Runs the built CLI as a separate process, as a user would.</summary>
internal static class CliProcess
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "edgesplit.dll");

    public static string ModelsDirectory => Path.Combine(AppContext.BaseDirectory, "models");

    public static CliResult Run(params string[] args) => Run(TimeSpan.FromMinutes(3), args);

    public static CliResult Run(TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["NO_COLOR"] = "1";
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"edgesplit {string.Join(' ', args)} did not finish in {timeout}");
        }
        // Without a timeout, WaitForExit also waits for the redirected streams to end.
        process.WaitForExit();
        lock (stdout)
        {
            lock (stderr)
            {
                return new CliResult(process.ExitCode, stdout.ToString(), stderr.ToString());
            }
        }
    }

    private static void Append(System.Text.StringBuilder text, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (text)
        {
            text.Append(line).Append('\n');
        }
    }
}
