namespace EdgeSplit.Zoo.Architectures;

/// <summary>torchvision <c>squeezenet1_1(num_classes=10)</c>: 727,626 parameters.</summary>
internal static class SqueezeNet
{
    public static void Build(OnnxGraphBuilder b)
    {
        var x = b.Input("input", 1, 3, 224, 224);
        x = b.Conv("features.0", x, 3, 64, 3, stride: 2);
        x = b.Relu("features.1", x);
        x = b.MaxPool("features.2", x, 3, 2, ceilMode: true);
        x = Fire(b, "features.3", x, 64, 16, 64, 64);
        x = Fire(b, "features.4", x, 128, 16, 64, 64);
        x = b.MaxPool("features.5", x, 3, 2, ceilMode: true);
        x = Fire(b, "features.6", x, 128, 32, 128, 128);
        x = Fire(b, "features.7", x, 256, 32, 128, 128);
        x = b.MaxPool("features.8", x, 3, 2, ceilMode: true);
        x = Fire(b, "features.9", x, 256, 48, 192, 192);
        x = Fire(b, "features.10", x, 384, 48, 192, 192);
        x = Fire(b, "features.11", x, 384, 64, 256, 256);
        x = Fire(b, "features.12", x, 512, 64, 256, 256);
        // classifier.0 is Dropout, an identity at inference.
        x = b.Conv("classifier.1", x, 512, 10, 1);
        x = b.Relu("classifier.2", x);
        x = b.GlobalAveragePool("classifier.3", x);
        x = b.Flatten("flatten", x);
        b.Output("logits", x, 1, 10);
    }

    private static string Fire(OnnxGraphBuilder b, string name, string x, int inChannels, int squeeze, int expand1x1, int expand3x3)
    {
        var s = b.Relu($"{name}.squeeze_activation", b.Conv($"{name}.squeeze", x, inChannels, squeeze, 1));
        var e1 = b.Relu($"{name}.expand1x1_activation", b.Conv($"{name}.expand1x1", s, squeeze, expand1x1, 1));
        var e3 = b.Relu($"{name}.expand3x3_activation", b.Conv($"{name}.expand3x3", s, squeeze, expand3x3, 3, padding: 1));
        return b.Concat($"{name}.cat", e1, e3);
    }
}
