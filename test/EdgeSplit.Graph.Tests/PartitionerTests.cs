using EdgeSplit.Tests;
using Onnx;

namespace EdgeSplit.Graph.Tests;

public class PartitionerTests
{
    [Fact]
    public void Each_partition_holds_only_the_initializers_its_nodes_use()
    {
        var model = OnnxModel.FromProto(TestModels.Residual(), "residual");
        var partitions = new Partitioner(model).Split([model.Nodes.Count / 2]);

        var total = model.Proto.Graph.Initializer.Count;
        var parts = partitions.Select(p => ModelProto.Parser.ParseFrom(p.OnnxBytes)).ToList();

        Assert.Equal(total, parts.Sum(p => p.Graph.Initializer.Count));
        foreach (var part in parts)
        {
            var used = part.Graph.Node.SelectMany(n => n.Input).ToHashSet();
            Assert.All(part.Graph.Initializer, i => Assert.Contains(i.Name, used));
        }
    }

    [Fact]
    public void Partitions_keep_the_opset_and_ir_version()
    {
        var model = OnnxModel.FromProto(TestModels.Chain(opset: 21), "chain21");
        foreach (var partition in new Partitioner(model).Split([1, 4]))
        {
            var proto = ModelProto.Parser.ParseFrom(partition.OnnxBytes);
            Assert.Equal(model.Proto.IrVersion, proto.IrVersion);
            Assert.Equal(21, proto.OpsetImport.Single().Version);
        }
    }

    [Fact]
    public void Constant_nodes_are_copied_into_every_partition_that_needs_them()
    {
        var model = OnnxModel.FromProto(TestModels.Residual(), "residual");
        var partitions = new Partitioner(model).Split([.. Enumerable.Range(0, model.Cuts.Count)]);

        foreach (var partition in partitions)
        {
            var proto = ModelProto.Parser.ParseFrom(partition.OnnxBytes);
            var constants = proto.Graph.Node.Where(n => n.OpType == "Constant").SelectMany(n => n.Output).ToHashSet();
            var needed = proto.Graph.Node.Where(n => n.OpType != "Constant").SelectMany(n => n.Input).Where(model.ConstantNodes.ContainsKey);
            Assert.All(needed, name => Assert.Contains(name, constants));
            Assert.DoesNotContain(partition.Inputs, constants.Contains);
        }
    }

    [Fact]
    public void A_model_input_needed_late_is_forwarded_by_the_stages_before()
    {
        var model = OnnxModel.FromProto(TestModels.TwoInputsTwoOutputs(), "two");
        var partitions = new Partitioner(model).Split([0]);

        Assert.Contains("extra", partitions[0].Receives);
        Assert.DoesNotContain("extra", partitions[0].Inputs);
        Assert.Contains("extra", partitions[0].Forwards);
        Assert.Contains("extra", partitions[1].Inputs);
        Assert.Equal(model.OutputNames.Order(), partitions[1].Forwards.Order());
    }

    [Fact]
    public void Forwards_of_each_stage_are_the_receives_of_the_next()
    {
        foreach (var (name, proto) in TestModels.All())
        {
            var model = OnnxModel.FromProto(proto, name);
            var partitions = new Partitioner(model).Split([.. Enumerable.Range(0, model.Cuts.Count)]);
            for (var i = 0; i + 1 < partitions.Count; i++)
            {
                Assert.Equal(partitions[i].Forwards, partitions[i + 1].Receives);
                Assert.Equal(model.Cuts[partitions[i].LastNode].Tensors, partitions[i].Forwards);
            }
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1000)]
    public void A_cut_out_of_range_is_refused_with_the_valid_range(int cut)
    {
        var model = OnnxModel.FromProto(TestModels.Chain(), "chain");

        var ex = Assert.Throws<BadInputException>(() => new Partitioner(model).Split([cut]));

        Assert.Contains($"0..{model.Cuts.Count - 1}", ex.Message);
    }

    [Fact]
    public void Cuts_out_of_order_are_refused()
    {
        var model = OnnxModel.FromProto(TestModels.Chain(), "chain");

        Assert.Throws<BadInputException>(() => new Partitioner(model).Split([3, 1]));
        Assert.Throws<BadInputException>(() => new Partitioner(model).Split([2, 2]));
    }

    [Fact]
    public void The_content_hash_changes_with_the_partition_and_not_otherwise()
    {
        var model = OnnxModel.FromProto(TestModels.Chain(), "chain");
        var a = new Partitioner(model).Split([2]);
        var b = new Partitioner(model).Split([2]);
        var c = new Partitioner(model).Split([3]);

        Assert.Equal(a[0].Sha256, b[0].Sha256);
        Assert.NotEqual(a[0].Sha256, c[0].Sha256);
        Assert.Matches("^[0-9a-f]{64}$", a[0].Sha256);
    }
}
