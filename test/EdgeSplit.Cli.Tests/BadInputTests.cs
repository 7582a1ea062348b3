using EdgeSplit.Tests;
using Google.Protobuf;

namespace EdgeSplit.Cli.Tests;

/// <summary>Every kind of bad input ends with exit code 2 and one clear <c>error:</c> line, no stack trace.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgesplit-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void AssertBadInput(CliResult result, string expected)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        var lines = result.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", result.StdErr);
        Assert.Equal("", result.StdOut);
    }

    [Fact]
    public void A_missing_model_file()
    {
        AssertBadInput(CliProcess.Run("inspect", Path.Combine(_dir, "missing.onnx")), "does not exist");
    }

    [Fact]
    public void A_file_that_is_not_onnx()
    {
        var path = Write("readme.onnx", "# not a model\n"u8.ToArray());
        AssertBadInput(CliProcess.Run("verify", path), "not an ONNX model");
    }

    [Fact]
    public void A_truncated_onnx_file()
    {
        var bytes = TestModels.Residual().ToByteArray();
        var path = Write("truncated.onnx", bytes[..(bytes.Length * 2 / 3)]);
        var result = CliProcess.Run("inspect", path);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith("error: ", result.StdErr);
        Assert.Matches("truncated|not an ONNX model", result.StdErr);
    }

    [Fact]
    public void A_cut_index_out_of_range_leaves_no_output_folder()
    {
        var model = Write("chain.onnx", TestModels.Chain().ToByteArray());
        var output = Path.Combine(_dir, "parts");

        AssertBadInput(CliProcess.Run("split", model, "--at", "999", "--out", output), "out of range");

        Assert.False(Directory.Exists(output));
        Assert.Empty(Directory.GetDirectories(_dir));
    }

    [Fact]
    public void An_input_shape_that_does_not_fit_the_model()
    {
        var model = Write("chain.onnx", TestModels.Chain().ToByteArray());
        AssertBadInput(CliProcess.Run("inspect", model, "--input-shape", "1x3x300x300"), "does not fit");
    }

    [Fact]
    public void An_unknown_operator()
    {
        var g = new TestGraph();
        g.Output(g.Op("Relu", [g.Op("NoSuchOperator", [g.Input("input", 1, 4)])]), 1, 4);
        var model = Write("custom.onnx", g.Bytes());

        AssertBadInput(CliProcess.Run("inspect", model), "NoSuchOperator");
    }

    [Fact]
    public void A_bad_flag_value_and_an_unknown_flag()
    {
        var model = Write("chain.onnx", TestModels.Chain().ToByteArray());
        AssertBadInput(CliProcess.Run("verify", model, "--cuts", "many"), "--cuts");
        AssertBadInput(CliProcess.Run("inspect", model, "--frobnicate"), "--frobnicate");
        AssertBadInput(CliProcess.Run("split", model, "--at", "1,x", "--out", Path.Combine(_dir, "o")), "--at");
    }

    [Theory]
    [InlineData("not a host")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("")]
    [InlineData(":17100")]
    public void A_bad_coordinator_address(string address)
    {
        AssertBadInput(CliProcess.Run("infer", "--server", address, "--random"), "HOST:PORT");
        AssertBadInput(CliProcess.Run("top", "--server", address, "--once"), "HOST:PORT");
    }

    [Fact]
    public void A_bad_agent_address_or_name_for_serve_and_agent()
    {
        var model = Write("chain.onnx", TestModels.Chain().ToByteArray());
        AssertBadInput(CliProcess.Run("serve", "--model", model, "--agents", "a=127.0.0.1:99999"), "HOST:PORT");
        AssertBadInput(CliProcess.Run("serve", "--model", model, "--agents", "..=127.0.0.1:5001"), "not a plain name");
        AssertBadInput(CliProcess.Run("agent", "--name", "..", "--listen", "127.0.0.1:0"), "not a plain name");
    }

    [Fact]
    public void Splitting_a_model_onnx_runtime_cannot_load_leaves_nothing_behind()
    {
        var g = new TestGraph();
        g.Output(g.Op("Relu", [g.Op("NoSuchOperator", [g.Input("input", 1, 4)])]), 1, 4);
        var model = Write("custom.onnx", g.Bytes());
        var output = Path.Combine(_dir, "parts");

        AssertBadInput(CliProcess.Run("split", model, "--at", "0", "--out", output), "NoSuchOperator");

        Assert.False(Directory.Exists(output));
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("1x3x8x8,1x3x8x8", "more than once")]
    public void An_empty_or_repeated_input_shape(string shape, string expected)
    {
        var model = Write("chain.onnx", TestModels.Chain().ToByteArray());
        AssertBadInput(CliProcess.Run("inspect", model, "--input-shape", shape), expected);
    }

    [Fact]
    public void A_split_into_an_existing_folder_leaves_no_stale_partition_and_a_killed_one_no_staging_folder()
    {
        var model = Write("chain.onnx", TestModels.Chain().ToByteArray());
        var output = Path.Combine(_dir, "parts");
        Assert.Equal(0, CliProcess.Run("split", model, "--at", "1,3", "--out", output).ExitCode);
        Assert.True(File.Exists(Path.Combine(output, "part2.onnx")));
        // What a split killed mid-way (SIGKILL, no chance to clean up) leaves: a staging folder of a process that is gone.
        var abandoned = Directory.CreateDirectory(Path.Combine(_dir, $".parts.tmp-{DeadPid()}-0123456789abcdef")).FullName;

        var result = CliProcess.Run("split", model, "--at", "1", "--out", output);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["part0.onnx", "part1.onnx", "plan.json"], Directory.GetFiles(output).Select(Path.GetFileName).Order());
        Assert.False(Directory.Exists(abandoned));
    }

    /// <summary>A process id no process has now (one that just ran and exited).</summary>
    private static int DeadPid()
    {
        using var process = System.Diagnostics.Process.Start("true")!;
        process.WaitForExit();
        return process.Id;
    }

    [Fact]
    public void Verbose_adds_the_stack_trace()
    {
        var result = CliProcess.Run("inspect", Path.Combine(_dir, "missing.onnx"), "--verbose");
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.StdErr);
        Assert.Contains("   at ", result.StdErr);
    }

    [Theory]
    [InlineData("nosuch=0.5", "does not have")]
    [InlineData("camera", "DEVICE=FACTOR")]
    [InlineData("camera=-1", "DEVICE=FACTOR")]
    public void A_bench_miscalibration_that_names_no_device_or_speed(string belief, string expected)
    {
        var examples = Path.Combine(RepositoryRoot(), "examples");
        AssertBadInput(CliProcess.Run("bench", "--models", "squeezenet",
            "--testbed", Path.Combine(examples, "testbeds", "three-device.yaml"),
            "--scenario", Path.Combine(examples, "scenarios", "stable.yaml"),
            "--strategies", "optimal", "--believe", belief, "--out", Path.Combine(_dir, "bench")), expected);
        Assert.False(Directory.Exists(Path.Combine(_dir, "bench")));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    public void A_frame_rate_that_is_not_a_positive_number(string fps)
    {
        var model = Write("chain.onnx", TestModels.Chain().ToByteArray());
        var testbed = Path.Combine(RepositoryRoot(), "examples", "testbeds", "two-pi.yaml");
        AssertBadInput(CliProcess.Run("plan", "--model", model, "--testbed", testbed, "--fps", fps), "--fps must be a positive number");
        AssertBadInput(CliProcess.Run("serve", "--model", model, "--agents", "a=127.0.0.1:5001", "--fps", fps), "--fps must be a positive number");
    }

    [Fact]
    public void A_sweep_runtime_that_is_neither_edgesplit_nor_pytorch_rpc()
    {
        AssertBadInput(CliProcess.Run("bench", "--sweep", "--model", "squeezenet", "--runtimes", "edgesplit,tensorflow",
            "--testbed", Path.Combine(RepositoryRoot(), "examples", "testbeds", "two-pi.yaml"), "--out", Path.Combine(_dir, "sweep")), "--runtimes takes edgesplit and/or pytorch-rpc");
        Assert.False(Directory.Exists(Path.Combine(_dir, "sweep")));
    }

    [Fact]
    public void An_agent_whose_emulation_file_gives_a_time_dilation_below_one()
    {
        var links = Path.Combine(_dir, "pi.links.json");
        File.WriteAllText(links, """{"device": "pi", "cpu_slowdown": 2, "links": [], "time_dilation": 0.5}""");
        var result = CliProcess.Run(TimeSpan.FromSeconds(60), new Dictionary<string, string> { ["EDGESPLIT_EMULATED_LINKS"] = links },
            "agent", "--name", "pi", "--listen", "127.0.0.1:0", "--cache", Path.Combine(_dir, "cache"));
        AssertBadInput(result, "time_dilation");
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EdgeSplit.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("tests run inside the repository");
    }
}
