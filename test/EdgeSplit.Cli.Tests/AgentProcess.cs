using System.Diagnostics;
using System.Text.RegularExpressions;

namespace EdgeSplit.Cli.Tests;

/// <summary>A real <c>edgesplit agent</c> process on loopback port 0; its bound address is read back from what it prints.</summary>
internal sealed partial class AgentProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _stderr;

    private AgentProcess(Process process, string name, string address, List<string> stderr)
    {
        _process = process;
        Name = name;
        Address = address;
        _stderr = stderr;
    }

    public string Name { get; }

    public string Address { get; }

    public int Pid => _process.Id;

    /// <summary>Everything the agent printed on stderr so far.</summary>
    public string StdErr
    {
        get
        {
            lock (_stderr)
            {
                return string.Join('\n', _stderr);
            }
        }
    }

    public static async Task<AgentProcess> StartAsync(string name, string cache, IReadOnlyDictionary<string, string>? environment = null, params string[] extra)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "edgesplit.dll"), "agent", "--name", name, "--listen", "127.0.0.1:0", "--cache", cache }.Concat(extra))
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["NO_COLOR"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var process = Process.Start(start)!;
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var lines = new List<string>();
        // One reader for the process's whole life: what it prints after start-up (a warning) is kept too.
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                listening.TrySetException(new InvalidOperationException($"agent {name} exited: {string.Join('\n', lines)}"));
                return;
            }
            lock (lines)
            {
                lines.Add(e.Data);
            }
            Interlocked.Exchange(ref s_printed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            if (Listening().Match(e.Data) is { Success: true } match)
            {
                listening.TrySetResult(match.Groups[1].Value);
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            var address = await listening.Task.WaitAsync(TimeSpan.FromMinutes(1));
            return new AgentProcess(process, name, address, lines);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    private static TaskCompletionSource s_printed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Waits (bounded) until the agent has printed a line containing <paramref name="text"/>; true if it did.</summary>
    public async Task<bool> PrintedAsync(string text, TimeSpan within)
    {
        using var bound = new CancellationTokenSource(within);
        while (!StdErr.Contains(text, StringComparison.Ordinal))
        {
            var next = Volatile.Read(ref s_printed).Task;
            if (StdErr.Contains(text, StringComparison.Ordinal))
            {
                break;
            }
            try
            {
                await next.WaitAsync(bound.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Stops the process as SIGSTOP does: its connections stay open and nothing answers.</summary>
    public void Stop() => Signal("STOP");

    public void Continue() => Signal("CONT");

    /// <summary>The process's command line as other users see it in /proc.</summary>
    public string CommandLine => File.ReadAllText($"/proc/{Pid}/cmdline").Replace('\0', ' ');

    private void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Continue();
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"listening on ([0-9.]+:[0-9]+)")]
    private static partial Regex Listening();
}
