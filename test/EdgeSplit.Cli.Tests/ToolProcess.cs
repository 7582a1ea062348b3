using System.Diagnostics;

namespace EdgeSplit.Cli.Tests;

/// <summary>Runs an external tool (openssl, node, kubectl, qemu...) the deployment files rely on.</summary>
internal static class ToolProcess
{
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The tool's full path from PATH, or null when it is not installed.</summary>
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    public static CliResult Run(string tool, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null,
        string? standardInput = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? RepositoryRoot,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            process.StandardInput.Write(standardInput);
            process.StandardInput.Close();
        }
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish in {timeout}");
        }
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EdgeSplit.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("tests run inside the repository");
    }
}
