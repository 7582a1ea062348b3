using EdgeSplit.Graph;
using Onnx;

namespace EdgeSplit.Zoo.Tests;

public class ParameterCountTests
{
    // The proposal's Table 4.1, as PyTorch counts them with 10-class heads.
    [Theory]
    [InlineData("squeezenet", 727_626)]
    [InlineData("mobilenetv2", 2_236_682)]
    [InlineData("resnet18", 11_181_642)]
    [InlineData("inceptionv3", 24_371_444)]
    [InlineData("alexnet", 57_044_810)]
    [InlineData("vgg16", 134_301_514)]
    public void Each_zoo_model_has_the_parameter_count_of_table_4_1(string name, long expected)
    {
        var model = ModelZoo.Build(name, new ZooBuildOptions(IncludeWeights: false));

        Assert.Equal(expected, ParameterCounter.Count(model));
    }

    [Theory]
    [InlineData("squeezenet")]
    [InlineData("mobilenetv2")]
    [InlineData("resnet18")]
    public void A_structure_only_build_has_the_same_graph_as_the_full_build(string name)
    {
        var full = ModelZoo.Build(name);
        var skeleton = ModelZoo.Build(name, new ZooBuildOptions(IncludeWeights: false));

        Assert.Equal(full.Graph.Node, skeleton.Graph.Node);
        Assert.Equal(
            full.Graph.Initializer.Select(t => (t.Name, string.Join('x', t.Dims))),
            skeleton.Graph.Initializer.Select(t => (t.Name, string.Join('x', t.Dims))));
        Assert.Equal(ParameterCounter.Count(full), ParameterCounter.Count(skeleton));
        // Every float of a full build is really there (4 bytes each), so the count is not of empty tensors.
        var weightBytes = full.Graph.Initializer.Where(t => t.Dims.Count > 0).Sum(t => (long)t.RawData.Length);
        Assert.Equal(full.Graph.Initializer.Where(t => t.Dims.Count > 0).Sum(t => t.Dims.Aggregate(4L, (a, b) => a * b)), weightBytes);
    }

    [Fact]
    public void Batch_norm_running_statistics_and_clip_bounds_are_not_parameters()
    {
        var model = TinyModel(graph =>
        {
            Node(graph, "Conv", "conv", "input", "conv.weight", "conv.bias");
            Node(graph, "BatchNormalization", "bn", "conv", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var");
            Node(graph, "Clip", "clip", "bn", "clip.min", "clip.max");
            Node(graph, "Reshape", "reshape", "clip", "shape");
            Node(graph, "Gemm", "fc", "reshape", "fc.weight", "fc.bias");
            Floats(graph, "conv.weight", 4, 3, 3, 3);
            Floats(graph, "conv.bias", 4);
            foreach (var name in new[] { "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var" })
            {
                Floats(graph, name, 4);
            }
            Floats(graph, "clip.min");
            Floats(graph, "clip.max");
            graph.Initializer.Add(new TensorProto { Name = "shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 2 } });
            // A one-output Linear: its single-element bias is a real parameter.
            Floats(graph, "fc.weight", 1, 4);
            Floats(graph, "fc.bias", 1);
        });

        Assert.Equal(4 * 27 + 4 + 4 + 4 + 4 + 1, ParameterCounter.Count(model));
    }

    [Fact]
    public void A_weight_shared_by_two_nodes_counts_once_and_an_unused_initializer_not_at_all()
    {
        var model = TinyModel(graph =>
        {
            Node(graph, "MatMul", "a", "input", "shared");
            Node(graph, "MatMul", "b", "a", "shared");
            Floats(graph, "shared", 8, 8);
            Floats(graph, "unused", 100);
        });

        Assert.Equal(64, ParameterCounter.Count(model));
    }

    private static ModelProto TinyModel(Action<GraphProto> fill)
    {
        var graph = new GraphProto { Name = "tiny" };
        fill(graph);
        return new ModelProto { IrVersion = 8, Graph = graph };
    }

    private static void Node(GraphProto graph, string opType, string name, params string[] inputs) =>
        graph.Node.Add(new NodeProto { Name = name, OpType = opType, Input = { inputs }, Output = { name } });

    private static void Floats(GraphProto graph, string name, params long[] dims) =>
        graph.Initializer.Add(new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, Dims = { dims } });
}
