using System.CommandLine;
using EdgeSplit.Graph;
using EdgeSplit.Zoo;

namespace EdgeSplit.Cli;

/// <summary>The model argument and the options that go with it, spelled the same in every command.</summary>
public static class ModelOptions
{
    public static Argument<string> Model() => new("MODEL") { Description = "An ONNX file, or a zoo model name (mobilenetv2, resnet18-imagenet...) built in memory." };

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

    /// <summary>Loads an ONNX file; a zoo name that is not a file is built in memory (or taken from the restored package).</summary>
    public static OnnxModel Load(string pathOrName)
    {
        if (File.Exists(pathOrName) || Directory.Exists(pathOrName) || !ModelZoo.Names.Contains(pathOrName))
        {
            return OnnxModel.Load(pathOrName);
        }
        return pathOrName == ModelZoo.PretrainedResNet18
            ? OnnxModel.Load(ModelZoo.PretrainedResNet18Path)
            : OnnxModel.FromProto(ModelZoo.Build(pathOrName), pathOrName);
    }

    /// <summary>Throws <see cref="BadInputException"/> when ONNX Runtime cannot load <paramref name="model"/> (an operator it lacks, a bad attribute).</summary>
    public static void CheckLoadable(OnnxModel model)
    {
        try
        {
            using var options = Runtime.OrtSessions.CreateOptions(1, optimize: false);
            using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model.Proto), options);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException ex)
        {
            throw new BadInputException($"ONNX Runtime cannot load '{model.DisplayName}': {ex.Message.ReplaceLineEndings(" ")}", ex);
        }
    }

    public static int CheckThreads(int threads) =>
        threads is >= 1 and <= 256 ? threads : throw new BadInputException($"--threads must be between 1 and 256, got {threads}");
}
