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

    public static CliResult Run(TimeSpan timeout, params string[] args) => Run(timeout, new Dictionary<string, string>(), args);

    /// <summary>Runs with extra environment variables (e.g. <c>EDGESPLIT_ORT_LIBRARY</c>).</summary>
    public static CliResult Run(TimeSpan timeout, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var variables = new Dictionary<string, string>(environment) { ["NO_COLOR"] = "1" };
        return ToolProcess.Run("dotnet", [Dll, .. args], timeout, Environment.CurrentDirectory, environment: variables);
    }
}
