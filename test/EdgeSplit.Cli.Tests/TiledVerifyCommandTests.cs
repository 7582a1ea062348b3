using System.Text.Json;
using EdgeSplit.Tests;

namespace EdgeSplit.Cli.Tests;

/// <summary><c>verify --tiles</c> and the tileability <c>inspect</c> reports, run as a user would.</summary>
public sealed class TiledVerifyCommandTests : IDisposable
{
    private readonly TempModelDirectory _models = new();

    public void Dispose() => _models.Dispose();

    private static void AssertBadInput(CliResult result, string expected)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single(result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
        Assert.Equal("", result.StdOut);
    }

    [Fact]
    public void Verify_tiles_json_checks_every_tileable_cut_and_reports_halo_overhead()
    {
        var result = CliProcess.Run("verify", _models.Write("residual.onnx", TileModels.ResidualDepthwise()), "--tiles", "2x2", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var json = JsonDocument.Parse(result.StdOut).RootElement;
        var cuts = json.GetProperty("cuts").EnumerateArray().ToList();

        Assert.True(json.GetProperty("passed").GetBoolean());
        Assert.Equal("2x2", json.GetProperty("tiles").GetString());
        Assert.Equal(json.GetProperty("tileable_cuts").GetInt32(), json.GetProperty("cuts_checked").GetInt32());
        Assert.Equal(json.GetProperty("cuts_checked").GetInt32(), cuts.Count);
        Assert.All(cuts, c => Assert.True(c.GetProperty("max_abs_diff").GetDouble() <= c.GetProperty("tolerance").GetDouble()));
        // Deeper cuts recompute more halo: the last cut costs more than the first conv alone.
        Assert.Equal(0, cuts[0].GetProperty("halo_overhead_percent").GetDouble());
        Assert.True(cuts[^1].GetProperty("halo_overhead_percent").GetDouble() > 0);
        Assert.Contains("GlobalAveragePool", json.GetProperty("prefix_end").GetString());
    }

    [Fact]
    public void Verify_tiles_upto_one_cut_with_unequal_weights_passes()
    {
        var result = CliProcess.Run("verify", _models.Write("odd.onnx", TileModels.OddStridedDilated()), "--tiles", "3,1x1,2", "--upto", "4", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var json = JsonDocument.Parse(result.StdOut).RootElement;

        Assert.Equal(4, json.GetProperty("cuts").EnumerateArray().Single().GetProperty("cut").GetInt32());
        Assert.Equal("3,1x1,2", json.GetProperty("tiles").GetString());
    }

    [Fact]
    public void Verify_tiles_upto_a_cut_past_global_pooling_says_why_it_is_not_tileable()
    {
        var model = _models.Write("chain.onnx", TestModels.Chain());
        AssertBadInput(CliProcess.Run("verify", model, "--tiles", "2x2", "--upto", "8"), "(GlobalAveragePool) pools over the whole image; tileable cuts are 0..");
    }

    [Fact]
    public void Bad_tile_options_are_bad_input()
    {
        var model = _models.Write("chain.onnx", TestModels.Chain());
        AssertBadInput(CliProcess.Run("verify", model, "--tiles", "2by2"), "--tiles '2by2' is not RxC");
        AssertBadInput(CliProcess.Run("verify", model, "--upto", "3"), "--upto needs --tiles");
        AssertBadInput(CliProcess.Run("verify", model, "--tiles", "2x2", "--compress", "fp16"), "--compress and --tiles do not combine");
        AssertBadInput(CliProcess.Run("verify", _models.Write("two.onnx", TestModels.TwoInputsTwoOutputs()), "--tiles", "2x2", "--upto", "all"), "no cut of");
        AssertBadInput(CliProcess.Run("verify", _models.Write("two.onnx", TestModels.TwoInputsTwoOutputs()), "--tiles", "2x2"), "'extra' is alive across it");
    }

    [Fact]
    public void Inspect_json_marks_the_tileable_cuts()
    {
        var result = CliProcess.Run("inspect", _models.Write("chain.onnx", TestModels.Chain()), "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var json = JsonDocument.Parse(result.StdOut).RootElement;
        var cuts = json.GetProperty("cuts").EnumerateArray().ToList();
        var firstNot = cuts.FindIndex(c => !c.GetProperty("tileable").GetBoolean());

        Assert.Equal("GlobalAveragePool", cuts[firstNot].GetProperty("op").GetString());
        Assert.All(cuts.Skip(firstNot), c => Assert.False(c.GetProperty("tileable").GetBoolean()));
        Assert.Equal($"0..{firstNot - 1}", json.GetProperty("tiling").GetProperty("cuts").GetString());
    }
}
