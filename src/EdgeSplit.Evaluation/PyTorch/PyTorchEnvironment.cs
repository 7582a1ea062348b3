using System.Diagnostics;
using System.Text.Json;
using EdgeSplit.Graph;
using EdgeSplit.Testbed;

namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>PyTorch is not installed where the PyTorch runtime needs it; the message says what to install.</summary>
public sealed class PyTorchUnavailableException(string message) : BadInputException(message);

/// <summary>
/// Debian's Python (<c>/usr/bin/python3</c>, not a pyenv one on PATH) with Debian's torch, torchvision and
/// onnx, and the folder of EdgeSplit's PyTorch package (<c>pytorch/</c>, copied beside the binaries).
/// </summary>
/// <param name="Python">The interpreter, <see cref="DebianPython"/>.</param>
/// <param name="TorchVersion">torch's <c>__version__</c> (Debian's 1.13.1 says 1.13.0a0).</param>
/// <param name="TorchvisionVersion">torchvision's <c>__version__</c>.</param>
/// <param name="Blas">The BLAS library torch loads: an optimised one (OpenBLAS) or Debian's reference BLAS, several times slower in some convolutions.</param>
/// <param name="PackageDirectory">The <c>pytorch/</c> folder.</param>
public sealed record PyTorchEnvironment(string Python, string TorchVersion, string TorchvisionVersion, string Blas, string PackageDirectory)
{
    public const string DebianPython = "/usr/bin/python3";

    /// <summary>
    /// The Debian packages the PyTorch side needs (torch 1.13.1 and torchvision 0.14.1 on Debian 12), and the
    /// optimised BLAS python3-torch only recommends.
    /// </summary>
    public static IReadOnlyList<string> DebianPackages { get; } = ["python3-torch", "python3-torchvision", "python3-onnx", "libopenblas0-openmp"];

    /// <summary>Whether torch uses an optimised BLAS rather than the reference one.</summary>
    public bool HasOptimisedBlas => Blas.Contains("openblas", StringComparison.Ordinal);

    public static string InstallCommand => $"apt-get install -y --no-install-recommends {string.Join(' ', DebianPackages)}";

    /// <summary>Where the build copies <c>pytorch/</c>.</summary>
    public static string DefaultPackageDirectory => Path.Combine(AppContext.BaseDirectory, "pytorch");

    private static readonly Lock FoundLock = new();
    private static PyTorchEnvironment? _found;

    /// <summary>The command that runs the package with <paramref name="arguments"/> (a subcommand first).</summary>
    public ProcessLaunch Command(IEnumerable<string> arguments) => new(Python, [PackageDirectory, .. arguments]);

    /// <summary>Finds the environment, or returns null and says what is missing and how to install it.</summary>
    public static PyTorchEnvironment? TryFind(out string reason)
    {
        lock (FoundLock)
        {
            if (_found is not null)
            {
                reason = "";
                return _found;
            }
        }
        var package = DefaultPackageDirectory;
        if (!File.Exists(Path.Combine(package, "edgesplit_torch", "cli.py")))
        {
            reason = $"EdgeSplit's PyTorch package is missing at {package}; build the solution again (it copies pytorch/ beside the binaries)";
            return null;
        }
        if (!File.Exists(DebianPython))
        {
            reason = $"{DebianPython} is missing; install Debian's Python and PyTorch as root: {InstallCommand}";
            return null;
        }
        var probe = Probe();
        if (probe is null)
        {
            reason = $"{DebianPython} cannot import torch, torchvision and onnx; install them as root: {InstallCommand} (or run as root, which installs them)";
            return null;
        }
        reason = "";
        lock (FoundLock)
        {
            return _found = new PyTorchEnvironment(DebianPython, probe.Value.Torch, probe.Value.Torchvision, probe.Value.Blas, package);
        }
    }

    /// <summary>
    /// Finds the environment; when it is missing (or torch would use the reference BLAS) and this process is
    /// root, installs the Debian packages first. Not root, a missing BLAS is only logged: torch still runs.
    /// </summary>
    /// <exception cref="PyTorchUnavailableException">Missing, and not root (or the install failed).</exception>
    public static async Task<PyTorchEnvironment> EnsureAsync(Action<string>? log, CancellationToken cancellation)
    {
        var found = TryFind(out var reason);
        if (found is { HasOptimisedBlas: true } || found is not null && !Environment.IsPrivilegedProcess)
        {
            if (!found.HasOptimisedBlas)
            {
                log?.Invoke($"torch uses the reference BLAS ({found.Blas}), several times slower in some convolutions; as root: {InstallCommand}");
            }
            return found;
        }
        var script = Path.Combine(DefaultPackageDirectory, "install-debian-packages.sh");
        if (!Environment.IsPrivilegedProcess || !File.Exists("/usr/bin/apt-get") || !File.Exists(script))
        {
            throw new PyTorchUnavailableException(reason);
        }
        log?.Invoke($"installing {string.Join(", ", DebianPackages)} with apt-get (about 150 MB to download, 650 MB on disk)");
        var info = new ProcessStartInfo("sh") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(script);
        using var process = Process.Start(info) ?? throw new PyTorchUnavailableException($"could not start {script}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellation);
        var stderr = process.StandardError.ReadToEndAsync(cancellation);
        await process.WaitForExitAsync(cancellation);
        if (process.ExitCode != 0)
        {
            var tail = string.Join(" ", (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));
            throw new PyTorchUnavailableException($"installing {string.Join(", ", DebianPackages)} failed ({tail}); run '{InstallCommand}' as root");
        }
        await stdout;
        lock (FoundLock)
        {
            _found = null;
        }
        return TryFind(out reason) ?? throw new PyTorchUnavailableException(reason);
    }

    private static (string Torch, string Torchvision, string Blas)? Probe()
    {
        var info = new ProcessStartInfo(DebianPython) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(DefaultPackageDirectory, "probe.py"));
        // Output captured by events (stderr drained so the child never blocks on a full pipe), not by blocking on a read task.
        var stdout = new System.Text.StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) =>
        {
            lock (stdout)
            {
                stdout.Append(e.Data).Append('\n');
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        if (!process.Start())
        {
            return null;
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            return null;
        }
        // Without a timeout, WaitForExit also waits for the redirected streams to end.
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            return null;
        }
        string text;
        lock (stdout)
        {
            text = stdout.ToString();
        }
        var found = JsonSerializer.Deserialize<string?[]>(text);
        return found is [{ } torch, { } torchvision, var blas] ? (torch, torchvision, blas ?? "none") : null;
    }
}
