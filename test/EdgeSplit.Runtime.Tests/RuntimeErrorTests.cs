using EdgeSplit.Graph;
using EdgeSplit.Tests;
using Google.Protobuf;

namespace EdgeSplit.Runtime.Tests;

public class RuntimeErrorTests
{
    [Fact]
    public void An_unknown_operator_is_refused_by_name()
    {
        var g = new TestGraph();
        g.Output(g.Op("FrobnicateTensor", [g.Input("input", 1, 4)]), 1, 4);

        var ex = Assert.Throws<BadInputException>(() => new ModelSession(g.Bytes()));

        Assert.Contains("FrobnicateTensor", ex.Message);
    }

    [Fact]
    public void An_input_shape_with_the_wrong_rank_is_refused()
    {
        var model = OnnxModel.FromProto(TestModels.Chain(), "chain");

        var ex = Assert.Throws<BadInputException>(() => InputShapes.Resolve(model, "1x3x8"));

        Assert.Contains("does not fit", ex.Message);
    }

    [Fact]
    public void An_input_shape_that_contradicts_a_fixed_dimension_is_refused()
    {
        var model = OnnxModel.FromProto(TestModels.Chain(), "chain");

        var ex = Assert.Throws<BadInputException>(() => InputShapes.Resolve(model, "1x3x9x8"));

        Assert.Contains("dimension 2 is fixed at 8", ex.Message);
    }

    [Fact]
    public void Symbolic_height_and_width_need_an_input_shape()
    {
        var model = OnnxModel.FromProto(TestModels.DynamicHeightWidth(), "dynamic");

        var ex = Assert.Throws<BadInputException>(() => InputShapes.Resolve(model, null));

        Assert.Contains("--input-shape", ex.Message);
        Assert.Equal([2L, 3, 16, 32], InputShapes.Resolve(model, "2x3x16x32")["x"]);
    }

    [Theory]
    [InlineData("1x3xeightx8")]
    [InlineData("1x0x8x8")]
    [InlineData("nosuch:1x3x8x8")]
    public void A_malformed_input_shape_is_refused(string spec)
    {
        var model = OnnxModel.FromProto(TestModels.Chain(), "chain");

        Assert.Throws<BadInputException>(() => InputShapes.Resolve(model, spec));
    }

    [Fact]
    public void A_model_with_several_inputs_needs_named_shapes()
    {
        var model = OnnxModel.FromProto(TestModels.TwoInputsTwoOutputs(), "two");

        var ex = Assert.Throws<BadInputException>(() => InputShapes.Resolve(model, "1x3x8x8"));

        Assert.Contains("image:", ex.Message);
        Assert.Equal([1L, 3], InputShapes.Resolve(model, "image:1x3x8x8,extra:1x3")["extra"]);
    }

    [Fact]
    public void Inputs_that_do_not_match_a_model_fail_with_a_clear_message_not_a_crash()
    {
        var model = OnnxModel.FromProto(TestModels.Chain(), "chain");
        using var session = new ModelSession(model.Proto.ToByteArray());
        var wrong = RandomInputs.Create(OnnxModel.FromProto(TestModels.DynamicHeightWidth(), "d"), new Dictionary<string, long[]> { ["x"] = [1, 3, 8, 8] }, 1);

        Assert.ThrowsAny<Exception>(() => session.Run(wrong.Select(t => t with { Name = "input", Shape = [1, 3, 4, 4] })));
    }
}
