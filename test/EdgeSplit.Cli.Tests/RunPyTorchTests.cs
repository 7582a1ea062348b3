using System.Text.Json;
using EdgeSplit.Evaluation.PyTorch;
using EdgeSplit.Tests;
using Google.Protobuf;

namespace EdgeSplit.Cli.Tests;

/// <summary><c>edgesplit run --runtime pytorch</c>, the real executable and Debian's torch; skipped, with the reason, where torch is absent.</summary>
public sealed class RunPyTorchTests
{
    [SkippableFact]
    public void Run_with_the_pytorch_runtime_gives_onnx_runtime_top5_on_the_same_input()
    {
        Skip.If(PyTorchEnvironment.TryFind(out var reason) is null, reason);

        var torch = Json(CliProcess.Run("run", "squeezenet", "--random", "--seed", "7", "--count", "3", "--threads", "1", "--runtime", "pytorch", "--json"));
        var ort = Json(CliProcess.Run("run", "squeezenet", "--random", "--seed", "7", "--count", "3", "--threads", "1", "--json"));

        Assert.Equal(("pytorch", "onnxruntime"), (torch.GetProperty("runtime").GetString(), ort.GetProperty("runtime").GetString()));
        Assert.StartsWith("1.13", torch.GetProperty("torch").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, torch.GetProperty("count").GetInt32());
        Assert.True(torch.GetProperty("p50_ms").GetDouble() > 0);
        Assert.Equal(Floats(ort, "top5"), Floats(torch, "top5"));
        Assert.All(Floats(ort, "top5_scores").Zip(Floats(torch, "top5_scores")), p => Assert.InRange(p.Second - p.First, -1e-4, 1e-4));
    }

    [SkippableFact]
    public void A_model_that_is_not_from_the_zoo_is_one_error_line_with_exit_code_2()
    {
        Skip.If(PyTorchEnvironment.TryFind(out var reason) is null, reason);

        var path = Path.Combine(Path.GetTempPath(), $"edgesplit-chain-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, TestModels.Chain().ToByteArray());
        CliResult result;
        try
        {
            result = CliProcess.Run("run", path, "--random", "--count", "1", "--runtime", "pytorch");
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.StdErr, StringComparison.Ordinal);
        Assert.Contains("not one of the zoo's models", result.StdErr, StringComparison.Ordinal);
        Assert.Single(result.StdErr.Trim().Split('\n'));
    }

    private static JsonElement Json(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.StdOut).RootElement;
    }

    private static double[] Floats(JsonElement json, string property) => [.. json.GetProperty(property).EnumerateArray().Select(e => e.GetDouble())];
}
