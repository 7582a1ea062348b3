using System.Diagnostics;
using EdgeSplit.Graph;

namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>A PyTorch process failed or did not finish: the environment, not bad input. The message has its stderr's end.</summary>
public sealed class PyTorchRunException(string message) : IOException(message);

/// <summary>
/// One started Python process of a run: drains what was redirected (stdout whole, the last lines of
/// stderr), turns its exit into a result or an exception, and kills it (by its id) when disposed.
/// </summary>
internal sealed class PyTorchProcess : IDisposable
{
    private const int StderrLinesKept = 12;
    private readonly Process _process;
    private readonly Task<string> _stdout;
    private readonly Queue<string> _stderr = new();

    public PyTorchProcess(string role, string device, Process process)
    {
        Role = role;
        Device = device;
        _process = process;
        _stdout = process.StartInfo.RedirectStandardOutput ? process.StandardOutput.ReadToEndAsync() : Task.FromResult("");
        if (process.StartInfo.RedirectStandardError)
        {
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }
                lock (_stderr)
                {
                    _stderr.Enqueue(e.Data);
                    if (_stderr.Count > StderrLinesKept)
                    {
                        _stderr.Dequeue();
                    }
                }
            };
            process.BeginErrorReadLine();
        }
    }

    public string Role { get; }

    public string Device { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Exited with a code other than 0 (a signal included).</summary>
    public bool HasFailed => _process.HasExited && _process.ExitCode != 0;

    public Task WaitForExitAsync(CancellationToken cancellation) => _process.WaitForExitAsync(cancellation);

    /// <summary>Its stdout once it has exited 0; else the exception its exit means.</summary>
    public async Task<string> ResultAsync()
    {
        await _process.WaitForExitAsync();
        var stdout = await _stdout;
        if (_process.ExitCode != 0)
        {
            throw Failure();
        }
        return stdout;
    }

    /// <summary>
    /// What its exit means: exit code 2 with an <c>error:</c> line is bad input (a model that is not a
    /// zoo model, a cut with no module boundary); anything else is a failed run, with stderr's end.
    /// </summary>
    public Exception Failure()
    {
        string[] lines;
        lock (_stderr)
        {
            lines = [.. _stderr];
        }
        var error = lines.LastOrDefault(l => l.StartsWith("error: ", StringComparison.Ordinal));
        if (_process.HasExited && _process.ExitCode == 2 && error is not null)
        {
            return new BadInputException(error["error: ".Length..]);
        }
        var code = _process.HasExited ? $"exited with code {_process.ExitCode}" : "is still running";
        var tail = lines.Length == 0 ? "" : ": " + string.Join(" | ", lines.Where(l => l.Trim().Length > 0).TakeLast(4));
        return new PyTorchRunException($"PyTorch {Role} on {Device} {code}{tail}");
    }

    /// <summary>Kills it and its children by id if it still runs, and waits (briefly) until it is gone.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TimeSpan.FromSeconds(5));
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
