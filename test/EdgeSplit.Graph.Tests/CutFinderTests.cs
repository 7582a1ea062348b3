using EdgeSplit.Tests;

namespace EdgeSplit.Graph.Tests;

public class CutFinderTests
{
    [Fact]
    public void Plain_chain_has_a_cut_between_every_pair_of_nodes_with_one_tensor_each()
    {
        var model = OnnxModel.FromProto(TestModels.Chain(), "chain");

        Assert.Equal(model.Nodes.Count - 1, model.Cuts.Count);
        // BatchNormalization's variance is computed from weights (Abs, Add): those cuts carry it too.
        var afterActivations = model.Cuts.Where(c => c.OpType is "Relu" or "MaxPool" or "GlobalAveragePool" or "Flatten");
        Assert.All(afterActivations, c => Assert.Single(c.Tensors));
    }

    [Fact]
    public void Cuts_inside_a_residual_block_carry_the_skip_tensor_as_well()
    {
        var model = OnnxModel.FromProto(TestModels.Residual(), "residual");
        var add = model.Nodes.Select((n, i) => (n, i)).First(p => p.n.OpType == "Add" && model.ProducerOf(p.n.Input[1]) >= 0).i;
        var skip = model.Nodes[add].Input[1];

        var inside = model.Cuts.Where(c => c.AfterNode < add && c.AfterNode >= model.ProducerOf(skip)).ToList();

        Assert.NotEmpty(inside);
        Assert.All(inside, c => Assert.Contains(skip, c.Tensors));
        Assert.Contains(inside, c => c.Tensors.Count == 2);
    }

    [Fact]
    public void Cuts_inside_an_inception_block_carry_every_branch_still_needed()
    {
        var model = OnnxModel.FromProto(TestModels.Inception(), "inception");
        var concat = model.Nodes.Select((n, i) => (n, i)).Single(p => p.n.OpType == "Concat").i;

        var widest = model.Cuts.Where(c => c.AfterNode < concat).Max(c => c.Tensors.Count);

        Assert.True(widest >= 3, $"expected a cut with three or more live tensors before the concat, widest had {widest}");
    }

    [Fact]
    public void Constant_nodes_are_data_and_never_cross_a_cut()
    {
        var proto = TestModels.Residual();
        var constants = proto.Graph.Node.Where(n => n.OpType == "Constant").SelectMany(n => n.Output).ToHashSet();
        var model = OnnxModel.FromProto(proto, "residual");

        Assert.NotEmpty(constants);
        Assert.DoesNotContain(model.Nodes, n => n.OpType == "Constant");
        Assert.All(model.Cuts, c => Assert.DoesNotContain(c.Tensors, constants.Contains));
    }

    [Fact]
    public void A_file_whose_nodes_are_not_sorted_is_ordered_topologically()
    {
        var g = new TestGraph();
        var x = g.Relu(g.Conv(g.Input("input", 1, 3, 8, 8), 3, 4));
        g.Output(g.Op("Sigmoid", [g.Relu(x)]), 1, 4, 8, 8);
        var model = OnnxModel.FromProto(g.Shuffled().Build(), "shuffled");

        var seen = new HashSet<string>(model.Inputs.Select(i => i.Name));
        foreach (var node in model.Nodes)
        {
            Assert.All(node.Input.Where(i => !model.IsConstant(i)), i => Assert.Contains(i, seen));
            seen.UnionWith(node.Output);
        }
    }

    [Fact]
    public void Initializers_listed_as_inputs_by_old_exporters_are_not_model_inputs()
    {
        var proto = TestModels.Chain(opset: 9);
        foreach (var init in proto.Graph.Initializer)
        {
            proto.Graph.Input.Add(new Onnx.ValueInfoProto { Name = init.Name });
        }
        var model = OnnxModel.FromProto(proto, "old");

        Assert.Equal(["input"], model.Inputs.Select(i => i.Name));
        Assert.All(model.Cuts, c => Assert.DoesNotContain(c.Tensors, t => t.StartsWith('w')));
    }

    [Fact]
    public void Symbolic_dimensions_are_read_as_symbols()
    {
        var model = OnnxModel.FromProto(TestModels.DynamicHeightWidth(), "dynamic");

        var input = Assert.Single(model.Inputs);
        Assert.Equal("batchx3xheightxwidth", input.ShapeText);
        Assert.True(input.HasSymbolicDims);
    }

    [Fact]
    public void Shape_tensors_crossing_a_cut_are_typed_int64_without_running_the_model()
    {
        var model = OnnxModel.FromProto(TestModels.DynamicHeightWidth(), "dynamic");
        var shapeOutput = model.Nodes.Single(n => n.OpType == "Shape").Output[0];

        Assert.Contains(model.Cuts, c => c.Tensors.Contains(shapeOutput));
        Assert.Equal(Onnx.TensorProto.Types.DataType.Int64, model.ElementTypes[shapeOutput]);
    }

    [Fact]
    public void Parameters_count_weights_biases_and_batchnorm_affine_but_not_running_statistics()
    {
        var g = new TestGraph();
        var x = g.Conv(g.Input("input", 1, 3, 8, 8), 3, 4); // 4*3*3*3 + 4 = 112
        var bn = g.Op("BatchNormalization", [x, g.Weight(4), g.Weight(4), g.Weight(4), g.Op("Abs", [g.Weight(4)])]); // 8 counted; the variance weight feeds Abs, so it counts
        var clipped = g.Op("Clip", [bn, g.Constant(0f), g.Constant(6f)]);
        g.Output(g.Op("Reshape", [clipped, g.Ints(1, -1)]), 1, 256);
        var model = OnnxModel.FromProto(g.Build(), "params");

        Assert.Equal(112 + 8 + 4, model.ParameterCount);
        Assert.Equal(model.ParameterCount, model.CumulativeParameters[^1]);
    }

    [Fact]
    public void Nodes_that_feed_no_output_are_left_out_so_no_partition_is_empty()
    {
        var g = new TestGraph();
        var x = g.Input("input", 1, 4);
        g.Op("Neg", [x]); // a dead end
        g.Output(g.Op("Relu", [g.Op("Sigmoid", [x])]), 1, 4);
        var model = OnnxModel.FromProto(g.Build(), "dead");

        Assert.Equal(1, model.DeadNodeCount);
        Assert.Equal(["Sigmoid", "Relu"], model.Nodes.Select(n => n.OpType));
    }
}
