using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Providers;
using EdgeSplit.Tests;

namespace EdgeSplit.Planning.Tests;

/// <summary>Node times are kept per (device, execution provider): a GPU's times never stand in for its CPU's.</summary>
public class ProfileProviderTests
{
    private static readonly ProfilerOptions Quick = new(WarmupRuns: 1, TimedRuns: 2, ProfiledRuns: 1);

    private static (OnnxModel Model, IReadOnlyList<TensorData> Inputs) Residual()
    {
        var model = OnnxModel.FromProto(TestModels.Residual(), "residual");
        return (model, RandomInputs.Create(model, InputShapes.Resolve(model, null), seed: 1));
    }

    [Fact]
    public void A_profile_records_the_provider_its_sessions_really_ran_on()
    {
        var (model, inputs) = Residual();
        // No CUDA here (or none usable without a GPU): the sessions fall back, and the profile must say cpu.
        var cudaOrCpu = Quick with { Provider = new ProviderChoice(ExecutionProvider.Parse("cuda"), FallbackToCpu: true) };

        var cpu = Profiler.Measure(model, [3], inputs, "host", Quick);
        var fellBack = Profiler.Measure(model, [3], inputs, "host", cudaOrCpu);

        Assert.Equal("cpu", cpu.Provider);
        Assert.Equal(File.Exists("/dev/nvidiactl") && ExecutionProviders.Available().Contains("CUDAExecutionProvider") ? "cuda" : "cpu", fellBack.Provider);
    }

    [Fact]
    public void Stored_profiles_of_one_device_are_kept_apart_per_provider()
    {
        var (model, inputs) = Residual();
        var directory = Directory.CreateTempSubdirectory("edgesplit-profiles-");
        try
        {
            var store = new ProfileStore(directory.FullName);
            var cpu = Profiler.Measure(model, [3], inputs, "jetson", Quick);
            var gpu = cpu with { Provider = "cuda", NodeMs = [.. cpu.NodeMs.Select(ms => ms / 4)] };

            store.Save(cpu);
            Assert.Null(store.TryLoad(cpu.ModelSha256, "jetson", "cuda"));
            store.Save(gpu);

            Assert.Equal(cpu.NodeMs, store.TryLoad(cpu.ModelSha256, "jetson")!.NodeMs);
            Assert.Equal(gpu.NodeMs, store.TryLoad(cpu.ModelSha256, "jetson", "cuda")!.NodeMs);
            Assert.Equal(2, Directory.GetFiles(directory.FullName).Length);
            var measured = 0;
            Assert.Equal(gpu.NodeMs, store.GetOrMeasure(cpu.ModelSha256, "jetson", () => { measured++; return gpu; }, "cuda").NodeMs);
            Assert.Equal(0, measured);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
