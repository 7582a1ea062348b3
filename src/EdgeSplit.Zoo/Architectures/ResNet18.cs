namespace EdgeSplit.Zoo.Architectures;

/// <summary>torchvision <c>resnet18(num_classes=10)</c>: 11,181,642 parameters.</summary>
internal static class ResNet18
{
    public static void Build(OnnxGraphBuilder b)
    {
        var x = b.Input("input", 1, 3, 224, 224);
        x = b.Conv("conv1", x, 3, 64, 7, stride: 2, padding: 3, bias: false);
        x = b.BatchNorm("bn1", x, 64);
        x = b.Relu("relu", x);
        x = b.MaxPool("maxpool", x, 3, 2, padding: 1);
        var inChannels = 64;
        (int Channels, int Stride)[] layers = [(64, 1), (128, 2), (256, 2), (512, 2)];
        for (var layer = 0; layer < layers.Length; layer++)
        {
            var (channels, stride) = layers[layer];
            x = BasicBlock(b, $"layer{layer + 1}.0", x, inChannels, channels, stride);
            x = BasicBlock(b, $"layer{layer + 1}.1", x, channels, channels, 1);
            inChannels = channels;
        }
        x = b.GlobalAveragePool("avgpool", x);
        x = b.Flatten("flatten", x);
        x = b.Linear("fc", x, 512, 10, gain: 1f);
        b.Output("logits", x, 1, 10);
    }

    private static string BasicBlock(OnnxGraphBuilder b, string name, string input, int inChannels, int outChannels, int stride)
    {
        var x = b.Conv($"{name}.conv1", input, inChannels, outChannels, 3, stride, 1, bias: false);
        x = b.BatchNorm($"{name}.bn1", x, outChannels);
        x = b.Relu($"{name}.relu1", x);
        // Unit gain on the branch ends: branch plus identity then keeps the block's output scale.
        x = b.Conv($"{name}.conv2", x, outChannels, outChannels, 3, 1, 1, bias: false, gain: 1f);
        x = b.BatchNorm($"{name}.bn2", x, outChannels);
        var identity = input;
        if (stride != 1 || inChannels != outChannels)
        {
            identity = b.Conv($"{name}.downsample.0", input, inChannels, outChannels, 1, stride, bias: false, gain: 1f);
            identity = b.BatchNorm($"{name}.downsample.1", identity, outChannels);
        }
        x = b.Add($"{name}.add", x, identity);
        return b.Relu($"{name}.relu2", x);
    }
}
