namespace EdgeSplit.Zoo.Architectures;

/// <summary>torchvision <c>vgg16(num_classes=10)</c> (configuration D, no batch norm): 134,301,514 parameters.</summary>
internal static class Vgg16
{
    // Configuration D: output channels, 0 for a 2x2 max pool.
    private static readonly int[] Configuration = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0];

    public static void Build(OnnxGraphBuilder b)
    {
        var x = b.Input("input", 1, 3, 224, 224);
        var inChannels = 3;
        var index = 0;
        foreach (var channels in Configuration)
        {
            if (channels == 0)
            {
                x = b.MaxPool($"features.{index++}", x, 2, 2);
                continue;
            }
            x = b.Conv($"features.{index++}", x, inChannels, channels, 3, padding: 1);
            x = b.Relu($"features.{index++}", x);
            inChannels = channels;
        }
        // AdaptiveAvgPool2d((7, 7)) on the 7x7 map a 224x224 input gives: a 1x1 average pool.
        x = b.AveragePool("avgpool", x, 1, 1);
        x = b.Flatten("flatten", x);
        // classifier.2 and classifier.5 are Dropout, identities at inference.
        x = b.Relu("classifier.1", b.Linear("classifier.0", x, 512 * 7 * 7, 4096));
        x = b.Relu("classifier.4", b.Linear("classifier.3", x, 4096, 4096));
        x = b.Linear("classifier.6", x, 4096, 10, gain: 1f);
        b.Output("logits", x, 1, 10);
    }
}
