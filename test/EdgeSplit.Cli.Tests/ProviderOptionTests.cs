using System.Runtime.InteropServices;
using System.Text.Json;
using EdgeSplit.Runtime.Providers;

namespace EdgeSplit.Cli.Tests;

/// <summary>
/// <c>--provider</c>, <c>--provider-fallback</c> and <c>--ort-library</c> on the real CLI, each run
/// in its own process (the ONNX Runtime library is chosen once per process).
/// </summary>
public sealed class ProviderOptionTests : IDisposable
{
    private static readonly bool CudaUsable =
        File.Exists("/dev/nvidiactl") && ExecutionProviders.Available().Contains("CUDAExecutionProvider");

    private readonly string _dir = Directory.CreateTempSubdirectory("edgesplit-ort-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The libonnxruntime.so that the build copied next to the CLI from the NuGet package.</summary>
    private static string PackagedLibrary =>
        Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", "libonnxruntime.so");

    private static JsonElement Json(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.StdOut).RootElement;
    }

    private static void AssertBadInput(CliResult result, string expected)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single(result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
    }

    [Fact]
    public void Run_on_the_cpu_provider_reports_it_and_the_library_it_loaded()
    {
        var run = Json(CliProcess.Run("run", "squeezenet", "--random", "--count", "2", "--threads", "1", "--provider", "cpu", "--json"));

        Assert.Equal("cpu", run.GetProperty("provider").GetString());
        Assert.Equal(JsonValueKind.Null, run.GetProperty("fallback_reason").ValueKind);
        Assert.Equal(Path.GetFullPath(PackagedLibrary), run.GetProperty("ort_library").GetString());
    }

    [Fact]
    public void An_unknown_provider_ends_with_one_error_line()
    {
        AssertBadInput(CliProcess.Run("run", "squeezenet", "--random", "--count", "1", "--provider", "Frobnicator"), "Unknown provider name 'Frobnicator'");
    }

    [SkippableFact]
    public void Cuda_without_cuda_is_an_error_or_with_the_fallback_option_runs_on_the_cpu_with_a_warning()
    {
        Skip.If(CudaUsable, "this machine can run CUDA");
        AssertBadInput(CliProcess.Run("verify", "squeezenet", "--cuts", "1", "--provider", "cuda"), "--provider-fallback");

        var result = CliProcess.Run("verify", "squeezenet", "--cuts", "2", "--provider", "cuda", "--provider-fallback", "--json");

        var verify = Json(result);
        Assert.Equal("cpu", verify.GetProperty("provider").GetString());
        Assert.True(verify.GetProperty("passed").GetBoolean());
        Assert.Contains("warning: running on cpu, not cuda", result.StdErr);
    }

    [Fact]
    public void Ort_library_loads_the_given_file_by_flag_or_environment()
    {
        // A copy under another name, so /proc/self/maps shows which file the process really mapped.
        var copy = Path.Combine(_dir, "libonnxruntime-copy.so");
        File.Copy(PackagedLibrary, copy);

        var byFlag = Json(CliProcess.Run("run", "squeezenet", "--random", "--count", "2", "--threads", "1", "--json", "--ort-library", copy));
        var byEnvironment = Json(CliProcess.Run(TimeSpan.FromMinutes(3), new Dictionary<string, string> { [OrtLibrary.EnvironmentVariable] = copy },
            "run", "squeezenet", "--random", "--count", "2", "--threads", "1", "--json"));

        Assert.Equal(copy, byFlag.GetProperty("ort_library").GetString());
        Assert.Equal(copy, byEnvironment.GetProperty("ort_library").GetString());
        Assert.False(string.IsNullOrEmpty(byFlag.GetProperty("ort_version").GetString()));
    }

    [Fact]
    public void Ort_library_that_is_missing_or_not_onnx_runtime_ends_with_one_error_line()
    {
        var notOrt = Path.Combine(_dir, "libnot-ort.so");
        File.WriteAllText(notOrt, "not a shared object");

        AssertBadInput(CliProcess.Run("run", "squeezenet", "--random", "--ort-library", Path.Combine(_dir, "missing.so")), "does not exist");
        AssertBadInput(CliProcess.Run("verify", "squeezenet", "--ort-library", notOrt), "cannot be loaded");
    }
}
