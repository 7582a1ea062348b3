using EdgeSplit.Graph;
using Google.Protobuf;

namespace EdgeSplit.Zoo.Tests;

public class ModelZooTests
{
    [Theory]
    [InlineData("squeezenet")]
    [InlineData("mobilenetv2")]
    [InlineData("resnet18")]
    public void Small_zoo_models_run_in_onnx_runtime_and_give_finite_logits_of_order_one(string name)
    {
        var outputs = OrtRunner.RunOnce(ModelZoo.Build(name).ToByteArray());

        var (shape, logits) = Assert.Single(outputs, o => o.Key == "logits").Value;
        Assert.Equal([1L, 10L], shape);
        Assert.All(logits, v => Assert.True(float.IsFinite(v), $"{name} gave a non-finite logit {v}"));
        // Kaiming-scaled weights keep activations O(1): neither vanished nor exploded at the head.
        var rms = Math.Sqrt(logits.Average(v => (double)v * v));
        Assert.InRange(rms, 0.01, 100);
    }

    [Fact]
    public void Building_a_model_twice_gives_the_same_bytes()
    {
        var first = ModelZoo.Build("mobilenetv2").ToByteArray();
        var second = ModelZoo.Build("mobilenetv2").ToByteArray();

        Assert.Equal(first, second);
    }

    [Fact]
    public void The_same_tensor_name_in_two_models_gets_different_weights()
    {
        // The seed is per model, so ResNet18's and Inception v3's 'fc.bias' (both 10 floats) differ.
        var resnet = ModelZoo.Build("resnet18").Graph.Initializer.Single(t => t.Name == "fc.bias");
        var inception = ModelZoo.Build("inceptionv3").Graph.Initializer.Single(t => t.Name == "fc.bias");

        Assert.Equal(resnet.RawData.Length, inception.RawData.Length);
        Assert.NotEqual(resnet.RawData.ToByteArray(), inception.RawData.ToByteArray());
    }

    [Theory]
    [InlineData("squeezenet", 224)]
    [InlineData("mobilenetv2", 224)]
    [InlineData("resnet18", 224)]
    [InlineData("inceptionv3", 299)]
    [InlineData("alexnet", 224)]
    [InlineData("vgg16", 224)]
    public void Every_zoo_model_has_the_agreed_interface_and_unique_names(string name, int side)
    {
        var model = ModelZoo.Build(name, new ZooBuildOptions(IncludeWeights: false));
        var graph = model.Graph;

        Assert.Equal(8, model.IrVersion);
        Assert.Equal(13, Assert.Single(model.OpsetImport).Version);
        var input = Assert.Single(graph.Input);
        Assert.Equal("input", input.Name);
        Assert.Equal([1L, 3L, side, side], input.Type.TensorType.Shape.Dim.Select(d => d.DimValue));
        string[] expectedOutputs = name == "inceptionv3" ? ["logits", "aux_logits"] : ["logits"];
        Assert.Equal(expectedOutputs, graph.Output.Select(o => o.Name));
        Assert.All(graph.Output, o => Assert.Equal([1L, 10L], o.Type.TensorType.Shape.Dim.Select(d => d.DimValue)));
        var nodeNames = graph.Node.Select(n => n.Name).ToList();
        Assert.Equal(nodeNames.Count, nodeNames.Distinct().Count());
        Assert.All(nodeNames, n => Assert.False(string.IsNullOrWhiteSpace(n)));
        // Every BatchNormalization stays its own node with its four initializers, so buffers are visible.
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet();
        Assert.All(graph.Node.Where(n => n.OpType == "BatchNormalization"),
            n => Assert.All(n.Input.Skip(1), i => Assert.Contains(i, initializers)));
    }

    [Fact]
    public void Inception_v3_keeps_its_auxiliary_head_as_a_second_output()
    {
        var model = ModelZoo.Build("inceptionv3", new ZooBuildOptions(IncludeWeights: false));

        var auxHead = Assert.Single(model.Graph.Node, n => n.Output.Contains("aux_logits"));
        Assert.Equal("AuxLogits.fc", auxHead.Name);
        Assert.Equal("Gemm", auxHead.OpType);
        Assert.Contains(model.Graph.Node, n => n.Name == "AuxLogits.conv1.bn");
    }

    [Fact]
    public void An_unknown_name_is_refused_with_the_valid_names()
    {
        var error = Assert.Throws<BadInputException>(() => ModelZoo.Build("resnet50"));

        Assert.Contains("resnet50", error.Message);
        Assert.All(ModelZoo.Names, n => Assert.Contains(n, error.Message));
    }

    [Fact]
    public void Writing_an_unknown_model_is_refused_before_anything_is_created()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"zoo-test-{Guid.NewGuid():N}");

        Assert.Throws<BadInputException>(() => ModelZoo.Write("resnet50", Path.Combine(directory, "resnet50.onnx")));

        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public void A_missing_pretrained_file_asks_for_dotnet_restore()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"zoo-test-{Guid.NewGuid():N}", "resnet18-imagenet.onnx");

        var error = Assert.Throws<BadInputException>(() => ModelZoo.RequirePretrainedFile(missing));

        Assert.Contains("dotnet restore", error.Message);
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void Writing_a_model_leaves_exactly_the_file_with_the_built_bytes()
    {
        var directory = Directory.CreateTempSubdirectory("zoo-test-");
        try
        {
            var path = Path.Combine(directory.FullName, "nested", "squeezenet.onnx");

            var written = ModelZoo.Write("squeezenet", path);

            Assert.Equal(path, written.Path);
            Assert.Equal(727_626, written.ParameterCount);
            Assert.Equal(ModelZoo.Build("squeezenet").ToByteArray(), File.ReadAllBytes(path));
            Assert.Equal(written.FileBytes, new FileInfo(path).Length);
            Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Writing_the_pretrained_resnet18_copies_the_restored_file()
    {
        var directory = Directory.CreateTempSubdirectory("zoo-test-");
        try
        {
            var written = ModelZoo.Write(ModelZoo.PretrainedResNet18, Path.Combine(directory.FullName, "resnet18-imagenet.onnx"));

            Assert.Equal(File.ReadAllBytes(ModelZoo.PretrainedResNet18Path), File.ReadAllBytes(written.Path));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_pretrained_resnet18_is_restored_and_runs_in_onnx_runtime()
    {
        Assert.True(File.Exists(ModelZoo.PretrainedResNet18Path), $"missing {ModelZoo.PretrainedResNet18Path}");
        var model = ModelZoo.Build(ModelZoo.PretrainedResNet18);

        var outputs = OrtRunner.RunOnce(model.ToByteArray());

        var values = Assert.Single(outputs).Value.Values;
        Assert.NotEmpty(values);
        Assert.All(values, v => Assert.True(float.IsFinite(v)));
        // The CNTK trunk is only Conv (no bias) and BatchNormalization, so its parameters are simply the
        // conv weights plus BN scale and bias; the counter must agree (it has 3 blocks in stage 4, ~15.9 M).
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);
        long Size(string name) => initializers[name].Dims.Aggregate(1L, (a, b) => a * b);
        Assert.All(model.Graph.Node.Where(n => n.OpType == "Conv"), n => Assert.Equal(2, n.Input.Count));
        var expected = model.Graph.Node.Where(n => n.OpType == "Conv").Sum(n => Size(n.Input[1]))
            + model.Graph.Node.Where(n => n.OpType == "BatchNormalization").Sum(n => Size(n.Input[1]) + Size(n.Input[2]));
        Assert.Equal(expected, ParameterCounter.Count(model));
    }
}
