using System.Text.Json;
using EdgeSplit.Runtime;
using EdgeSplit.Tests;
using Google.Protobuf;

namespace EdgeSplit.Cli.Tests;

public sealed class CommandTests : IDisposable
{
    private readonly TempModelDirectory _models = new();

    public void Dispose() => _models.Dispose();

    private string Model(string name, Onnx.ModelProto proto) => _models.Write(name, proto);

    private static JsonElement Json(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.StdOut).RootElement;
    }

    [Fact]
    public void Inspect_json_lists_every_cut_with_tensors_and_measured_bytes()
    {
        var json = Json(CliProcess.Run("inspect", Model("inception.onnx", TestModels.Inception()), "--json"));

        Assert.True(json.GetProperty("parameters").GetInt64() > 0);
        var cuts = json.GetProperty("cuts").EnumerateArray().ToList();
        Assert.NotEmpty(cuts);
        Assert.All(cuts, c =>
        {
            Assert.True(c.GetProperty("bytes").GetInt64() > 0);
            Assert.NotEmpty(c.GetProperty("tensors").EnumerateArray());
            Assert.False(string.IsNullOrEmpty(c.GetProperty("after").GetString()));
        });
        Assert.Equal(Enumerable.Range(0, cuts.Count), cuts.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Contains(cuts, c => c.GetProperty("tensors").GetArrayLength() >= 3);
    }

    [Fact]
    public void Split_writes_standalone_partitions_and_a_plan_that_chain_to_the_monolithic_output()
    {
        var proto = TestModels.Residual();
        var output = Path.Combine(_models.Path, "parts");

        var json = Json(CliProcess.Run("split", Model("residual.onnx", proto), "--at", "3,9", "--out", output, "--json"));

        var plan = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "plan.json"))).RootElement;
        var partitions = plan.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal(3, partitions.Count);
        Assert.Equal(3, json.GetProperty("partitions").GetArrayLength());

        var model = Graph.OnnxModel.FromProto(proto, "residual");
        var inputs = RandomInputs.Create(model, InputShapes.Resolve(model, null), 4);
        using var whole = new ModelSession(proto.ToByteArray());
        var carried = inputs.ToDictionary(t => t.Name);
        foreach (var entry in partitions)
        {
            using var session = new ModelSession(File.ReadAllBytes(Path.Combine(output, entry.GetProperty("file").GetString()!)));
            Assert.Equal(entry.GetProperty("inputs").EnumerateArray().Select(e => e.GetString()), session.InputNames);
            foreach (var tensor in session.Run(carried))
            {
                carried[tensor.Name] = tensor;
            }
        }
        Assert.True(Verifier.Compare(0, whole.Run(inputs), carried).Passed);
    }

    [Fact]
    public void Verify_json_reports_cuts_checked_and_max_abs_diff()
    {
        var json = Json(CliProcess.Run("verify", Model("dense.onnx", TestModels.Dense()), "--json"));

        var model = Graph.OnnxModel.FromProto(TestModels.Dense(), "dense");
        Assert.Equal(model.Cuts.Count, json.GetProperty("cuts_checked").GetInt32());
        Assert.InRange(json.GetProperty("max_abs_diff").GetDouble(), 0, 1e-4);
    }

    [Fact]
    public void Verify_with_a_count_checks_that_many_spread_cuts_of_a_dynamic_model()
    {
        var json = Json(CliProcess.Run("verify", Model("ocr.onnx", TestModels.DynamicHeightWidth()), "--input-shape", "2x3x16x48", "--cuts", "3", "--json"));

        Assert.Equal(3, json.GetProperty("cuts_checked").GetInt32());
    }

    [Fact]
    public void Run_json_reports_latency_percentiles_and_top5()
    {
        var json = Json(CliProcess.Run("run", Model("chain.onnx", TestModels.Chain()), "--random", "--count", "5", "--json"));

        Assert.Equal(5, json.GetProperty("count").GetInt32());
        Assert.True(json.GetProperty("p50_ms").GetDouble() > 0);
        Assert.True(json.GetProperty("p95_ms").GetDouble() >= json.GetProperty("p50_ms").GetDouble());
        Assert.Equal(5, json.GetProperty("top5").GetArrayLength());
    }

    [Fact]
    public void The_pretrained_resnet18_from_its_nuget_package_verifies_at_spread_cuts()
    {
        var path = Path.Combine(CliProcess.ModelsDirectory, "resnet18-imagenet.onnx");
        Assert.True(File.Exists(path), $"restore should have placed {path}");

        var json = Json(CliProcess.Run("verify", path, "--cuts", "4", "--json"));

        Assert.Equal(4, json.GetProperty("cuts_checked").GetInt32());
        Assert.InRange(json.GetProperty("max_abs_diff").GetDouble(), 0, 1e-4);
    }

    [Theory]
    [InlineData("fp16", 1e-2)]
    [InlineData("int8", 2e-1)]
    public void Verify_with_compression_reports_the_error_the_codec_causes(string codec, double bound)
    {
        var json = Json(CliProcess.Run("verify", Model("residual.onnx", TestModels.Residual()), "--compress", codec, "--json"));

        Assert.Equal(codec, json.GetProperty("compression").GetString());
        Assert.False(json.GetProperty("lossless").GetBoolean());
        Assert.InRange(json.GetProperty("max_abs_diff").GetDouble(), 1e-9, bound);
    }
}
