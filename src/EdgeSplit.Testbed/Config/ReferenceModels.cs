namespace EdgeSplit.Testbed.Config;

/// <summary>
/// The models whose published batch-1 latencies calibrate a device: zoo architectures with the same
/// layers as the benchmarks' (ncnn's <c>benchmark/README.md</c> runs squeezenet 1.1, mobilenet_v2,
/// resnet18 and vgg16; the zoo builds torchvision's, with 10 classes instead of 1000).
/// </summary>
public static class ReferenceModels
{
    /// <summary>Every name a profile's <c>reference_ms</c> may give.</summary>
    public static IReadOnlyList<string> All { get; } = ["mobilenetv2", "resnet18", "squeezenet", "vgg16"];

    /// <summary>
    /// What a host measures by default: VGG16 is left out (138 M parameters, ~530 MB to build, seconds a
    /// run), so its published figures stay in the profiles for reference and for <c>calibrate --models</c>.
    /// </summary>
    public static IReadOnlyList<string> Measured { get; } = ["mobilenetv2", "resnet18", "squeezenet"];
}
