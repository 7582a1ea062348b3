using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Tests;

namespace EdgeSplit.Cluster.Tests.Monitoring;

/// <summary>
/// Agents measure the links their tensors cross. On a testbed each device reaches another at a per-link address
/// (<see cref="CoordinatorOptions.PeerAddresses"/>), not at the address the coordinator dials: the agents' link
/// probes must go there, and the links must come back named by device, or the planner never sees a link change
/// (on the namespace testbed every link read "not measured" before).
/// </summary>
public sealed class LinkMeasurementTests
{
    [Fact]
    public async Task Agents_probe_each_peer_at_its_per_link_address_and_links_are_reported_by_device_name()
    {
        var cache = Directory.CreateTempSubdirectory("edgesplit-links-").FullName;
        var agents = new List<AgentHost>();
        var proxies = new List<FreezableProxy>();
        try
        {
            foreach (var name in new[] { "dev0", "dev1" })
            {
                var agent = await AgentHost.StartAsync(new AgentOptions(name) { CacheDirectory = Path.Combine(cache, name) });
                agents.Add(agent);
                proxies.Add(FreezableProxy.Start(agent.Address));
            }
            // Each agent reaches the other only through that one's proxy (its "per-link address"); the coordinator dials them directly.
            var peerAddresses = new Dictionary<(string, string), string> { [("dev0", "dev1")] = proxies[1].Address, [("dev1", "dev0")] = proxies[0].Address };
            var model = SmallModels.Residual();
            var served = OnnxServing.Create(Graph.OnnxModel.Parse(model, "test"), "test");
            await using var host = await CoordinatorHost.StartAsync(served, [.. agents.Select(a => new AgentEndpoint(a.Name, a.Address))], new FixedCutsPlanSource([2]),
                new CoordinatorOptions { PeerAddresses = peerAddresses, MetricsInterval = TimeSpan.FromMilliseconds(200) });
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));

            // No request is sent: what crosses the proxies is the agents' own link measurement.
            var status = await host.WaitForStatusAsync(
                s => s.Devices.All(d => d.Links.Any(l => double.IsFinite(l.RttMs) && l.RttMs > 0)), bound.Token);

            Assert.Equal("dev1", status.Devices.Single(d => d.Name == "dev0").Links.Single().Peer);
            Assert.Equal("dev0", status.Devices.Single(d => d.Name == "dev1").Links.Single().Peer);
            Assert.All(proxies, p => Assert.True(p.BytesForwarded > 0, "no probe crossed the per-link address"));
        }
        finally
        {
            foreach (var proxy in proxies)
            {
                await proxy.DisposeAsync();
            }
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }
            Directory.Delete(cache, recursive: true);
        }
    }
}
