namespace EdgeSplit.Zoo.Architectures;

/// <summary>
/// torchvision <c>inception_v3(num_classes=10, aux_logits=True, init_weights=True)</c> on 299x299
/// input, its auxiliary classifier kept as the second output <c>aux_logits</c>: 24,371,444 parameters.
/// </summary>
internal static class InceptionV3
{
    public static void Build(OnnxGraphBuilder b)
    {
        var x = b.Input("input", 1, 3, 299, 299);
        x = BasicConv(b, "Conv2d_1a_3x3", x, 3, 32, (3, 3), stride: 2);
        x = BasicConv(b, "Conv2d_2a_3x3", x, 32, 32, (3, 3));
        x = BasicConv(b, "Conv2d_2b_3x3", x, 32, 64, (3, 3), padding: (1, 1));
        x = b.MaxPool("maxpool1", x, 3, 2);
        x = BasicConv(b, "Conv2d_3b_1x1", x, 64, 80, (1, 1));
        x = BasicConv(b, "Conv2d_4a_3x3", x, 80, 192, (3, 3));
        x = b.MaxPool("maxpool2", x, 3, 2);
        x = InceptionA(b, "Mixed_5b", x, 192, 32);
        x = InceptionA(b, "Mixed_5c", x, 256, 64);
        x = InceptionA(b, "Mixed_5d", x, 288, 64);
        x = InceptionB(b, "Mixed_6a", x, 288);
        x = InceptionC(b, "Mixed_6b", x, 768, 128);
        x = InceptionC(b, "Mixed_6c", x, 768, 160);
        x = InceptionC(b, "Mixed_6d", x, 768, 160);
        x = InceptionC(b, "Mixed_6e", x, 768, 192);
        var aux = InceptionAux(b, "AuxLogits", x, 768);
        x = InceptionD(b, "Mixed_7a", x, 768);
        x = InceptionE(b, "Mixed_7b", x, 1280);
        x = InceptionE(b, "Mixed_7c", x, 2048);
        x = b.GlobalAveragePool("avgpool", x);
        // dropout is an identity at inference.
        x = b.Flatten("flatten", x);
        x = b.Linear("fc", x, 2048, 10, gain: 1f);
        b.Output("logits", x, 1, 10);
        b.Output("aux_logits", aux, 1, 10);
    }

    /// <summary>BasicConv2d: Conv2d without bias, BatchNorm2d(eps=0.001), ReLU.</summary>
    private static string BasicConv(OnnxGraphBuilder b, string name, string x, int inChannels, int outChannels,
        (int H, int W) kernel, int stride = 1, (int H, int W)? padding = null)
    {
        x = b.Conv($"{name}.conv", x, inChannels, outChannels, kernel, (stride, stride), padding ?? (0, 0), bias: false);
        x = b.BatchNorm($"{name}.bn", x, outChannels, epsilon: 0.001f);
        return b.Relu($"{name}.relu", x);
    }

    private static string InceptionA(OnnxGraphBuilder b, string name, string x, int inChannels, int poolFeatures)
    {
        var branch1x1 = BasicConv(b, $"{name}.branch1x1", x, inChannels, 64, (1, 1));
        var branch5x5 = BasicConv(b, $"{name}.branch5x5_1", x, inChannels, 48, (1, 1));
        branch5x5 = BasicConv(b, $"{name}.branch5x5_2", branch5x5, 48, 64, (5, 5), padding: (2, 2));
        var branch3x3dbl = BasicConv(b, $"{name}.branch3x3dbl_1", x, inChannels, 64, (1, 1));
        branch3x3dbl = BasicConv(b, $"{name}.branch3x3dbl_2", branch3x3dbl, 64, 96, (3, 3), padding: (1, 1));
        branch3x3dbl = BasicConv(b, $"{name}.branch3x3dbl_3", branch3x3dbl, 96, 96, (3, 3), padding: (1, 1));
        var branchPool = b.AveragePool($"{name}.avg_pool", x, 3, 1, 1);
        branchPool = BasicConv(b, $"{name}.branch_pool", branchPool, inChannels, poolFeatures, (1, 1));
        return b.Concat($"{name}.cat", branch1x1, branch5x5, branch3x3dbl, branchPool);
    }

    private static string InceptionB(OnnxGraphBuilder b, string name, string x, int inChannels)
    {
        var branch3x3 = BasicConv(b, $"{name}.branch3x3", x, inChannels, 384, (3, 3), stride: 2);
        var branch3x3dbl = BasicConv(b, $"{name}.branch3x3dbl_1", x, inChannels, 64, (1, 1));
        branch3x3dbl = BasicConv(b, $"{name}.branch3x3dbl_2", branch3x3dbl, 64, 96, (3, 3), padding: (1, 1));
        branch3x3dbl = BasicConv(b, $"{name}.branch3x3dbl_3", branch3x3dbl, 96, 96, (3, 3), stride: 2);
        var branchPool = b.MaxPool($"{name}.max_pool", x, 3, 2);
        return b.Concat($"{name}.cat", branch3x3, branch3x3dbl, branchPool);
    }

    private static string InceptionC(OnnxGraphBuilder b, string name, string x, int inChannels, int c7)
    {
        var branch1x1 = BasicConv(b, $"{name}.branch1x1", x, inChannels, 192, (1, 1));
        var branch7x7 = BasicConv(b, $"{name}.branch7x7_1", x, inChannels, c7, (1, 1));
        branch7x7 = BasicConv(b, $"{name}.branch7x7_2", branch7x7, c7, c7, (1, 7), padding: (0, 3));
        branch7x7 = BasicConv(b, $"{name}.branch7x7_3", branch7x7, c7, 192, (7, 1), padding: (3, 0));
        var branch7x7dbl = BasicConv(b, $"{name}.branch7x7dbl_1", x, inChannels, c7, (1, 1));
        branch7x7dbl = BasicConv(b, $"{name}.branch7x7dbl_2", branch7x7dbl, c7, c7, (7, 1), padding: (3, 0));
        branch7x7dbl = BasicConv(b, $"{name}.branch7x7dbl_3", branch7x7dbl, c7, c7, (1, 7), padding: (0, 3));
        branch7x7dbl = BasicConv(b, $"{name}.branch7x7dbl_4", branch7x7dbl, c7, c7, (7, 1), padding: (3, 0));
        branch7x7dbl = BasicConv(b, $"{name}.branch7x7dbl_5", branch7x7dbl, c7, 192, (1, 7), padding: (0, 3));
        var branchPool = b.AveragePool($"{name}.avg_pool", x, 3, 1, 1);
        branchPool = BasicConv(b, $"{name}.branch_pool", branchPool, inChannels, 192, (1, 1));
        return b.Concat($"{name}.cat", branch1x1, branch7x7, branch7x7dbl, branchPool);
    }

    private static string InceptionD(OnnxGraphBuilder b, string name, string x, int inChannels)
    {
        var branch3x3 = BasicConv(b, $"{name}.branch3x3_1", x, inChannels, 192, (1, 1));
        branch3x3 = BasicConv(b, $"{name}.branch3x3_2", branch3x3, 192, 320, (3, 3), stride: 2);
        var branch7x7x3 = BasicConv(b, $"{name}.branch7x7x3_1", x, inChannels, 192, (1, 1));
        branch7x7x3 = BasicConv(b, $"{name}.branch7x7x3_2", branch7x7x3, 192, 192, (1, 7), padding: (0, 3));
        branch7x7x3 = BasicConv(b, $"{name}.branch7x7x3_3", branch7x7x3, 192, 192, (7, 1), padding: (3, 0));
        branch7x7x3 = BasicConv(b, $"{name}.branch7x7x3_4", branch7x7x3, 192, 192, (3, 3), stride: 2);
        var branchPool = b.MaxPool($"{name}.max_pool", x, 3, 2);
        return b.Concat($"{name}.cat", branch3x3, branch7x7x3, branchPool);
    }

    private static string InceptionE(OnnxGraphBuilder b, string name, string x, int inChannels)
    {
        var branch1x1 = BasicConv(b, $"{name}.branch1x1", x, inChannels, 320, (1, 1));
        var branch3x3 = BasicConv(b, $"{name}.branch3x3_1", x, inChannels, 384, (1, 1));
        branch3x3 = b.Concat($"{name}.branch3x3.cat",
            BasicConv(b, $"{name}.branch3x3_2a", branch3x3, 384, 384, (1, 3), padding: (0, 1)),
            BasicConv(b, $"{name}.branch3x3_2b", branch3x3, 384, 384, (3, 1), padding: (1, 0)));
        var branch3x3dbl = BasicConv(b, $"{name}.branch3x3dbl_1", x, inChannels, 448, (1, 1));
        branch3x3dbl = BasicConv(b, $"{name}.branch3x3dbl_2", branch3x3dbl, 448, 384, (3, 3), padding: (1, 1));
        branch3x3dbl = b.Concat($"{name}.branch3x3dbl.cat",
            BasicConv(b, $"{name}.branch3x3dbl_3a", branch3x3dbl, 384, 384, (1, 3), padding: (0, 1)),
            BasicConv(b, $"{name}.branch3x3dbl_3b", branch3x3dbl, 384, 384, (3, 1), padding: (1, 0)));
        var branchPool = b.AveragePool($"{name}.avg_pool", x, 3, 1, 1);
        branchPool = BasicConv(b, $"{name}.branch_pool", branchPool, inChannels, 192, (1, 1));
        return b.Concat($"{name}.cat", branch1x1, branch3x3, branch3x3dbl, branchPool);
    }

    private static string InceptionAux(OnnxGraphBuilder b, string name, string x, int inChannels)
    {
        x = b.AveragePool($"{name}.avg_pool", x, 5, 3);
        x = BasicConv(b, $"{name}.conv0", x, inChannels, 128, (1, 1));
        x = BasicConv(b, $"{name}.conv1", x, 128, 768, (5, 5));
        x = b.GlobalAveragePool($"{name}.adaptive_avg_pool", x);
        x = b.Flatten($"{name}.flatten", x);
        return b.Linear($"{name}.fc", x, 768, 10, gain: 1f);
    }
}
