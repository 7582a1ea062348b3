using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Planning;
using EdgeSplit.Tests;
using Google.Protobuf;

namespace EdgeSplit.Cli.Tests;

/// <summary><c>edgesplit top --once</c> against a real adaptive coordinator and agents on loopback.</summary>
public sealed class TopCommandTests
{
    [Fact]
    public async Task Top_once_prints_every_device_its_links_and_the_adaptation_counts()
    {
        var cache = Directory.CreateTempSubdirectory("edgesplit-top-").FullName;
        var agents = new List<AgentHost>();
        try
        {
            foreach (var name in new[] { "camera", "jetson", "laptop" })
            {
                agents.Add(await AgentHost.StartAsync(new AgentOptions(name) { CacheDirectory = Path.Combine(cache, name) }));
            }
            var onnx = Graph.OnnxModel.Parse(TestModels.Inception().ToByteArray(), "inception");
            var profile = ModelProfiling.Measure(onnx, options: new ProfilerOptions(WarmupRuns: 1, TimedRuns: 3, ProfiledRuns: 1)).Profile;
            var served = OnnxServing.Create(onnx, "inception") with { Profile = profile };
            await using var host = await CoordinatorHost.StartAsync(served, [.. agents.Select(a => new AgentEndpoint(a.Name, a.Address))],
                new AdaptiveOptions("greedy", Objective.Latency) { MetricsInterval = TimeSpan.FromMilliseconds(200) }, new CoordinatorOptions());
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await host.WaitForStatusAsync(s => s.Devices.All(d => d.Links.Count == 2), bound.Token);

            var result = CliProcess.Run(TimeSpan.FromMinutes(1), "top", "--server", host.Address, "--once");

            Assert.True(result.ExitCode == 0, result.ToString());
            foreach (var name in new[] { "camera", "jetson", "laptop" })
            {
                Assert.Contains(name, result.StdOut);
            }
            Assert.Contains("greedy", result.StdOut);
            Assert.Contains("Initial", result.StdOut);
            Assert.Contains("inception", result.StdOut);
        }
        finally
        {
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public void Top_without_a_coordinator_fails_with_a_clear_error()
    {
        var result = CliProcess.Run(TimeSpan.FromMinutes(1), "top", "--server", "127.0.0.1:1", "--once");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("cannot reach the coordinator", result.StdErr);
    }
}
