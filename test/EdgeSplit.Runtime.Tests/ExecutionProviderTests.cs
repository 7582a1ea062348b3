using EdgeSplit.Graph;
using EdgeSplit.Runtime.Providers;
using EdgeSplit.Tests;
using Google.Protobuf;

namespace EdgeSplit.Runtime.Tests;

/// <summary>Execution providers chosen where sessions are created: real ONNX Runtime sessions on this machine's build.</summary>
public class ExecutionProviderTests
{
    private static readonly bool CudaInRuntime = ExecutionProviders.Available().Contains("CUDAExecutionProvider");

    /// <summary>The NVIDIA driver's device nodes: without them no CUDA session can start.</summary>
    private static readonly bool NvidiaGpu = File.Exists("/dev/nvidiactl") || Directory.Exists("/proc/driver/nvidia");

    private const string NoGpu = "no NVIDIA GPU on this machine (no /dev/nvidiactl): the CUDA EP cannot be checked here";

    private static (OnnxModel Model, IReadOnlyList<TensorData> Inputs) Residual()
    {
        var model = OnnxModel.FromProto(TestModels.Residual(), "residual");
        return (model, RandomInputs.Create(model, InputShapes.Resolve(model, null), seed: 7));
    }

    [Fact]
    public void The_cpu_provider_runs_and_is_recorded_as_what_the_session_runs_on()
    {
        var (model, inputs) = Residual();
        using var plain = new ModelSession(model.Proto.ToByteArray());
        using var cpu = new ModelSession(model.Proto.ToByteArray(), 1, new ProviderChoice(ExecutionProvider.Parse("CPU")));

        Assert.Equal(new ProviderUse("cpu", "cpu"), cpu.Provider);
        Assert.False(cpu.Provider.FellBack);
        Assert.True(Verifier.Compare(0, plain.Run(inputs), cpu.Run(inputs).ToDictionary(t => t.Name)).Passed);
    }

    [Fact]
    public void An_unknown_provider_is_a_clear_error_naming_what_onnx_runtime_knows()
    {
        var (model, _) = Residual();

        var ex = Assert.Throws<ProviderUnavailableException>(() =>
            new ModelSession(model.Proto.ToByteArray(), 1, new ProviderChoice(ExecutionProvider.Parse("Frobnicator"))));

        Assert.Contains("Frobnicator", ex.Message);
        Assert.Contains("CPUExecutionProvider", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [SkippableFact]
    public void Cuda_without_cuda_is_a_clear_error()
    {
        Skip.If(CudaInRuntime && NvidiaGpu, "this machine can run CUDA: see Cuda_partitions_match_the_cpu");
        var (model, _) = Residual();

        var ex = Assert.Throws<ProviderUnavailableException>(() =>
            new ModelSession(model.Proto.ToByteArray(), 1, new ProviderChoice(ExecutionProvider.Parse("cuda"))));

        // Either the loaded ONNX Runtime lacks the EP (the CPU package), or it has it and CUDA cannot start (the GPU package here).
        Assert.Contains(CudaInRuntime ? "could not" : "is not in the loaded ONNX Runtime", ex.Reason);
        Assert.Contains("--provider-fallback", ex.Message);
    }

    [SkippableFact]
    public void Cuda_without_cuda_falls_back_to_the_cpu_when_allowed_and_records_why()
    {
        Skip.If(CudaInRuntime && NvidiaGpu, "this machine can run CUDA: see Cuda_partitions_match_the_cpu");
        var (model, inputs) = Residual();
        var choice = new ProviderChoice(ExecutionProvider.Parse("cuda", ["device_id=0"]), FallbackToCpu: true);
        using var plain = new ModelSession(model.Proto.ToByteArray());

        var report = Verifier.Verify(model, Verifier.SpreadCuts(model, 3), inputs, 1, provider: choice);
        using var session = new ModelSession(model.Proto.ToByteArray(), 1, choice);

        Assert.True(report.Passed);
        Assert.Equal("cpu", report.Provider.Used);
        Assert.Equal("cuda", session.Provider.Requested);
        Assert.Equal("cpu", session.Provider.Used);
        Assert.Contains("CUDA", session.Provider.FallbackReason, StringComparison.OrdinalIgnoreCase);
        Assert.True(Verifier.Compare(0, plain.Run(inputs), session.Run(inputs).ToDictionary(t => t.Name)).Passed);
    }

    [SkippableFact]
    public void Cuda_partitions_match_the_cpu_within_verify_tolerance()
    {
        Skip.IfNot(NvidiaGpu, NoGpu);
        Skip.IfNot(CudaInRuntime, "the loaded ONNX Runtime has no CUDAExecutionProvider: build with -p:OrtPackage=gpu or give --ort-library");
        var (model, inputs) = Residual();
        var cuda = new ProviderChoice(ExecutionProvider.Parse("cuda"));

        var report = Verifier.Verify(model, Verifier.SpreadCuts(model, null), inputs, 1, provider: cuda);

        Assert.Equal("cuda", report.Provider.Used);
        Assert.True(report.Passed, $"max abs diff {report.MaxAbsDiff}");
    }

    [Fact]
    public void Provider_names_and_options_parse_to_onnx_runtime_names()
    {
        var tensorRt = ExecutionProvider.Parse("TensorrtExecutionProvider", ["trt_fp16_enable=1", "device_id = 0"]);
        Assert.Equal("tensorrt", tensorRt.Name);
        Assert.Equal("TensorrtExecutionProvider", tensorRt.OrtName);
        Assert.Equal("tensorrt(device_id=0,trt_fp16_enable=1)", tensorRt.ToString());
        Assert.Equal(tensorRt, ExecutionProvider.Parse("tensorrt", ["device_id=0", "trt_fp16_enable=1"]));
        Assert.Equal("XnnpackExecutionProvider", ExecutionProvider.Parse("xnnpack").OrtName);
        Assert.Equal("SomeVendorEP", ExecutionProvider.Parse("SomeVendorEP").OrtName);
    }

    [Theory]
    [InlineData("cuda", "device_id", "KEY=VALUE")]
    [InlineData("cuda", "device_id=0,device_id=1", "twice")]
    [InlineData("cpu", "use_arena=1", "no options")]
    [InlineData("cu da", "", "execution provider's name")]
    public void Bad_provider_arguments_are_bad_input(string name, string options, string expected)
    {
        var ex = Assert.Throws<BadInputException>(() => ExecutionProvider.Parse(name, options.Length == 0 ? [] : options.Split(',')));
        Assert.Contains(expected, ex.Message);
    }
}
