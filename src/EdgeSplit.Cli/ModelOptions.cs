using System.CommandLine;
using EdgeSplit.Graph;

namespace EdgeSplit.Cli;

/// <summary>The model argument and the options that go with it, spelled the same in every command.</summary>
public static class ModelOptions
{
    public static Argument<string> Model() => new("MODEL") { Description = "An ONNX file." };

    public static Option<string?> InputShape() => new("--input-shape")
    {
        Description = "Concrete input shape(s) for symbolic dimensions: 1x3x224x224, or name:1x3x48x320,other:1x10.",
    };

    public static Option<int> Threads() => new("--threads")
    {
        Description = "ONNX Runtime intra-op threads.",
        DefaultValueFactory = _ => Math.Min(2, Environment.ProcessorCount),
    };

    public static Option<int> Seed() => new("--seed")
    {
        Description = "Seed of the random input.",
        DefaultValueFactory = _ => 42,
    };

    public static OnnxModel Load(string path) => OnnxModel.Load(path);

    public static int CheckThreads(int threads) =>
        threads is >= 1 and <= 256 ? threads : throw new BadInputException($"--threads must be between 1 and 256, got {threads}");
}
