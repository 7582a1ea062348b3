using CsCheck;
using EdgeSplit.Graph;
using EdgeSplit.Tests;
using Google.Protobuf;
using Onnx;

namespace EdgeSplit.Runtime.Tests;

public class ChainedPartitionTests
{
    public static TheoryData<string> ModelNames() => [.. TestModels.All().Select(m => m.Name)];

    [Theory]
    [MemberData(nameof(ModelNames))]
    public void Chained_partitions_match_monolithic_output_at_every_cut(string name)
    {
        var model = OnnxModel.FromProto(TestModels.All().Single(m => m.Name == name).Model, name);
        var shapes = InputShapes.Resolve(model, name == "dynamic-hw" ? "2x3x12x20" : null);
        var inputs = RandomInputs.Create(model, shapes, seed: 3);

        var report = Verifier.Verify(model, Verifier.SpreadCuts(model, null), inputs, intraOpThreads: 1);

        Assert.Equal(model.Cuts.Count, report.CutsChecked);
        Assert.True(report.Passed, $"max abs diff {report.MaxAbsDiff} at cuts {string.Join(',', report.Checks.Where(c => !c.Passed).Select(c => c.Cut))}");
    }

    [Fact]
    public void Splitting_at_every_cut_at_once_still_matches_the_monolithic_output()
    {
        foreach (var (name, proto) in TestModels.All().Where(m => m.Name != "dynamic-hw"))
        {
            var model = OnnxModel.FromProto(proto, name);
            var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, null), seed: 5);
            using var whole = new ModelSession(proto.ToByteArray());
            var expected = whole.Run(inputs);

            using var chain = new ChainRunner(new Partitioner(model).Split([.. Enumerable.Range(0, model.Cuts.Count)]));
            var actual = chain.Run(inputs).ToDictionary(t => t.Name);

            Assert.True(Verifier.Compare(-1, expected, actual).Passed, name);
        }
    }

    [Fact]
    public void Dynamic_height_and_width_partitions_serve_any_size()
    {
        var model = OnnxModel.FromProto(TestModels.DynamicHeightWidth(), "dynamic");
        var partitions = new Partitioner(model).Split([model.Cuts.Count / 2]);
        using var chain = new ChainRunner(partitions);
        using var whole = new ModelSession(model.Proto.ToByteArray());

        foreach (var shape in new[] { "1x3x8x16", "3x3x16x40" })
        {
            var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, shape), seed: 9);
            var check = Verifier.Compare(0, whole.Run(inputs), chain.Run(inputs).ToDictionary(t => t.Name));
            Assert.True(check.Passed, $"{shape}: {check.MaxAbsDiff}");
        }
    }

    [Fact]
    public void Every_cut_of_every_random_dag_reproduces_the_output()
    {
        Gen.Int[0, int.MaxValue].Sample(seed =>
        {
            var model = OnnxModel.FromProto(RandomDag(seed), $"dag{seed}");
            var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, null), seed);
            var report = Verifier.Verify(model, Verifier.SpreadCuts(model, null), inputs, intraOpThreads: 1);
            return report.Passed && report.CutsChecked == model.Cuts.Count;
        }, iter: 25, threads: 1);
    }

    /// <summary>
    /// A random DAG over [1,6] tensors: each node reads one or two earlier tensors (inputs, any
    /// earlier node, or a Constant), some nodes are dead ends, and one intermediate may be a
    /// second output, so cuts hold from one tensor to many.
    /// </summary>
    private static ModelProto RandomDag(int seed)
    {
        var random = new Random(seed);
        var g = new TestGraph(seed: seed);
        var tensors = new List<string> { g.Input("a", 1, 6) };
        if (random.Next(2) == 0)
        {
            tensors.Add(g.Input("b", 1, 6));
        }
        string[] unary = ["Relu", "Sigmoid", "Tanh", "Neg", "Abs"];
        string[] binary = ["Add", "Mul", "Sub", "Max"];
        var count = random.Next(2, 14);
        for (var i = 0; i < count; i++)
        {
            string Pick() => random.Next(8) == 0 ? g.Constant((float)random.NextDouble(), 1, 6) : tensors[random.Next(tensors.Count)];
            tensors.Add(random.Next(2) == 0
                ? g.Op(unary[random.Next(unary.Length)], [Pick()])
                : g.Op(binary[random.Next(binary.Length)], [Pick(), Pick()]));
        }
        // Join everything still unused into the output so most nodes matter; a few stay dead ends.
        var output = tensors[^1];
        foreach (var t in tensors.Skip(1).Where(_ => random.Next(3) == 0))
        {
            output = g.Op("Add", [output, t]);
        }
        g.Output(output, 1, 6);
        if (random.Next(3) == 0)
        {
            g.Output(tensors[random.Next(1, tensors.Count - 1)], 1, 6);
        }
        return g.Build();
    }
}
