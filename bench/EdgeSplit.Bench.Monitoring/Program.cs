using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using EdgeSplit.Cluster.Monitoring;

// What one sample of the agent's resource monitor costs (CPU time and allocations), measured by BenchmarkDotNet.
// Usage: dotnet run -c Release --project bench/EdgeSplit.Bench.Monitoring [-- --job short]
// At the agents' default of 4 samples a second, a sample must cost well under a millisecond to stay under 0.5 % of a core.
BenchmarkSwitcher.FromAssembly(typeof(SamplingBenchmark).Assembly).Run(args);

/// <summary>One <see cref="ResourceMonitor.Sample"/> of this host and process, as every agent takes it every 250 ms.</summary>
[MemoryDiagnoser]
public class SamplingBenchmark
{
    private ResourceMonitor _monitor = null!;

    [GlobalSetup]
    public void Setup() => _monitor = new ResourceMonitor(new ResourceMonitorOptions { PowerModel = new PowerModel(2.7, 6.4, 5) });

    [Benchmark]
    public ResourceSnapshot Sample() => _monitor.Sample();
}
