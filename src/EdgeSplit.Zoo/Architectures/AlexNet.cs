namespace EdgeSplit.Zoo.Architectures;

/// <summary>torchvision <c>alexnet(num_classes=10)</c>: 57,044,810 parameters.</summary>
internal static class AlexNet
{
    public static void Build(OnnxGraphBuilder b)
    {
        var x = b.Input("input", 1, 3, 224, 224);
        x = b.Relu("features.1", b.Conv("features.0", x, 3, 64, 11, stride: 4, padding: 2));
        x = b.MaxPool("features.2", x, 3, 2);
        x = b.Relu("features.4", b.Conv("features.3", x, 64, 192, 5, padding: 2));
        x = b.MaxPool("features.5", x, 3, 2);
        x = b.Relu("features.7", b.Conv("features.6", x, 192, 384, 3, padding: 1));
        x = b.Relu("features.9", b.Conv("features.8", x, 384, 256, 3, padding: 1));
        x = b.Relu("features.11", b.Conv("features.10", x, 256, 256, 3, padding: 1));
        x = b.MaxPool("features.12", x, 3, 2);
        // AdaptiveAvgPool2d((6, 6)) on the 6x6 map a 224x224 input gives: a 1x1 average pool.
        x = b.AveragePool("avgpool", x, 1, 1);
        x = b.Flatten("flatten", x);
        // classifier.0 and classifier.3 are Dropout, identities at inference.
        x = b.Relu("classifier.2", b.Linear("classifier.1", x, 256 * 6 * 6, 4096));
        x = b.Relu("classifier.5", b.Linear("classifier.4", x, 4096, 4096));
        x = b.Linear("classifier.6", x, 4096, 10, gain: 1f);
        b.Output("logits", x, 1, 10);
    }
}
