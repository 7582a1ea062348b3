using EdgeSplit.Graph;
using Google.Protobuf;
using EdgeSplit.Zoo.Architectures;
using Onnx;

namespace EdgeSplit.Zoo;

/// <summary>How <see cref="ModelZoo.Build"/> fills the graph.</summary>
/// <param name="IncludeWeights">
/// False builds the same nodes and initializers (names, shapes, types) without their data: a
/// structure-only model for counting parameters or walking the graph cheaply. It does not load in
/// ONNX Runtime.
/// </param>
public sealed record ZooBuildOptions(bool IncludeWeights = true);

/// <summary>One model file the zoo wrote.</summary>
public sealed record ZooModelFile(string Name, string Path, long ParameterCount, long FileBytes);

/// <summary>
/// The models of the proposal's Table 4.1, built as ONNX graphs (IR version 8, opset 13) with the
/// torchvision layer structure, 10-class heads and deterministic seeded weights (Kaiming-scaled, so
/// activations keep an O(1) scale to the logits), plus the ImageNet-trained ResNet18 trunk restored
/// from NuGet. Input <c>input</c> is float32 [1,3,224,224] ([1,3,299,299] for Inception v3); output
/// <c>logits</c> is [1,10], and Inception v3 adds <c>aux_logits</c> [1,10].
/// </summary>
public static class ModelZoo
{
    /// <summary>The real ImageNet-trained ResNet18 trunk (a CNTK export), copied rather than built.</summary>
    public const string PretrainedResNet18 = "resnet18-imagenet";

    private sealed record Architecture(string Name, ulong Seed, string Description, Action<OnnxGraphBuilder> Build);

    private static readonly Architecture[] Architectures =
    [
        new("squeezenet", 11, "torchvision squeezenet1_1, 10 classes", SqueezeNet.Build),
        new("mobilenetv2", 12, "torchvision mobilenet_v2 (width 1.0), 10 classes", MobileNetV2.Build),
        new("resnet18", 13, "torchvision resnet18, 10 classes", ResNet18.Build),
        new("inceptionv3", 14, "torchvision inception_v3 (aux_logits kept as a second output), 10 classes, 299x299", InceptionV3.Build),
        new("alexnet", 15, "torchvision alexnet, 10 classes", AlexNet.Build),
        new("vgg16", 16, "torchvision vgg16 (no batch norm), 10 classes", Vgg16.Build),
    ];

    /// <summary>The six built architectures, smallest first.</summary>
    public static IReadOnlyList<string> BuiltNames { get; } = Architectures.Select(a => a.Name).ToArray();

    /// <summary>Every zoo name: the six built architectures, then <see cref="PretrainedResNet18"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. BuiltNames, PretrainedResNet18];

    /// <summary>Where restore put the pretrained ResNet18: <c>models/resnet18-imagenet.onnx</c> beside the binaries.</summary>
    public static string PretrainedResNet18Path => Path.Combine(AppContext.BaseDirectory, "models", "resnet18-imagenet.onnx");

    /// <summary>Builds (or, for <see cref="PretrainedResNet18"/>, loads) the named model.</summary>
    /// <exception cref="BadInputException">The name is unknown, or the pretrained file is missing.</exception>
    public static ModelProto Build(string name, ZooBuildOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name == PretrainedResNet18)
        {
            using var stream = File.OpenRead(RequirePretrainedFile());
            return ModelProto.Parser.ParseFrom(stream);
        }
        var architecture = Find(name);
        var builder = new OnnxGraphBuilder(architecture.Name, architecture.Seed, (options ?? new ZooBuildOptions()).IncludeWeights);
        architecture.Build(builder);
        return builder.ToModel($"EdgeSplit zoo: {architecture.Description}; seeded weights (seed {architecture.Seed}), not trained.");
    }

    /// <summary>
    /// Writes the named model to <paramref name="path"/> atomically (a temporary file beside it, then a
    /// move), streaming the protobuf to disk, and reports what it wrote.
    /// </summary>
    /// <exception cref="BadInputException">The name is unknown, or the pretrained file is missing.</exception>
    public static ZooModelFile Write(string name, string path)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(path);
        if (name != PretrainedResNet18)
        {
            // Refuse a bad name before touching the file system.
            Find(name);
        }
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            long parameters;
            if (name == PretrainedResNet18)
            {
                var source = RequirePretrainedFile();
                File.Copy(source, temporary);
                parameters = ParameterCounter.Count(Build(name));
            }
            else
            {
                var model = Build(name);
                parameters = ParameterCounter.Count(model);
                using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1))
                using (var coded = new CodedOutputStream(stream, 1 << 20, leaveOpen: true))
                {
                    // A 1 MB protobuf buffer: the default 4 KB one made VGG16's 537 MB take seconds, not one.
                    model.WriteTo(coded);
                    coded.Flush();
                }
            }
            File.Move(temporary, fullPath, overwrite: true);
            return new ZooModelFile(name, fullPath, parameters, new FileInfo(fullPath).Length);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static Architecture Find(string name) =>
        Architectures.FirstOrDefault(a => a.Name == name)
        ?? throw new BadInputException($"unknown zoo model '{name}'; choose one of: {string.Join(", ", Names)}");

    private static string RequirePretrainedFile() => RequirePretrainedFile(PretrainedResNet18Path);

    internal static string RequirePretrainedFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new BadInputException(
                $"the pretrained ResNet18 is missing at {path}; run 'dotnet restore' then build again (it comes from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18)");
        }
        return path;
    }
}
