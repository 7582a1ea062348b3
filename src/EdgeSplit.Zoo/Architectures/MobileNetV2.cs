namespace EdgeSplit.Zoo.Architectures;

/// <summary>torchvision <c>mobilenet_v2(num_classes=10)</c>, width 1.0: 2,236,682 parameters.</summary>
internal static class MobileNetV2
{
    // (expansion t, output channels c, repeats n, first stride s), as in the paper and torchvision.
    private static readonly (int T, int C, int N, int S)[] Settings =
    [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ];

    public static void Build(OnnxGraphBuilder b)
    {
        var x = b.Input("input", 1, 3, 224, 224);
        x = ConvBnRelu6(b, "features.0", x, 3, 32, 3, 2, 1);
        var inChannels = 32;
        var index = 1;
        foreach (var (t, c, n, s) in Settings)
        {
            for (var i = 0; i < n; i++)
            {
                x = InvertedResidual(b, $"features.{index++}", x, inChannels, c, i == 0 ? s : 1, t);
                inChannels = c;
            }
        }
        x = ConvBnRelu6(b, $"features.{index}", x, inChannels, 1280, 1, 1, 0);
        x = b.GlobalAveragePool("avgpool", x);
        x = b.Flatten("flatten", x);
        // classifier.0 is Dropout, an identity at inference.
        x = b.Linear("classifier.1", x, 1280, 10, gain: 1f);
        b.Output("logits", x, 1, 10);
    }

    private static string ConvBnRelu6(OnnxGraphBuilder b, string name, string x, int inChannels, int outChannels,
        int kernel, int stride, int padding, int groups = 1)
    {
        x = b.Conv($"{name}.0", x, inChannels, outChannels, kernel, stride, padding, groups, bias: false);
        x = b.BatchNorm($"{name}.1", x, outChannels);
        return b.Relu6($"{name}.2", x);
    }

    private static string InvertedResidual(OnnxGraphBuilder b, string name, string input, int inChannels, int outChannels, int stride, int expandRatio)
    {
        var hidden = inChannels * expandRatio;
        var x = input;
        var layer = 0;
        if (expandRatio != 1)
        {
            x = ConvBnRelu6(b, $"{name}.conv.{layer++}", x, inChannels, hidden, 1, 1, 0);
        }
        x = ConvBnRelu6(b, $"{name}.conv.{layer++}", x, hidden, hidden, 3, stride, 1, groups: hidden);
        // Linear bottleneck: no activation after the projection, so unit gain.
        x = b.Conv($"{name}.conv.{layer++}", x, hidden, outChannels, 1, bias: false, gain: 1f);
        x = b.BatchNorm($"{name}.conv.{layer}", x, outChannels);
        return stride == 1 && inChannels == outChannels ? b.Add($"{name}.add", input, x) : x;
    }
}
