using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Tests;
using Microsoft.Extensions.Time.Testing;

namespace EdgeSplit.Cluster.Tests;

/// <summary>
/// Devices that join and leave: real agents on loopback that join a coordinator on their own
/// (<see cref="AgentOptions.Join"/>), heartbeats on an injected clock, a joined device leaving under load.
/// </summary>
public sealed class FleetTests : IDisposable
{
    private readonly string _cache = Directory.CreateTempSubdirectory("edgesplit-fleet-tests-").FullName;

    [Fact]
    public async Task Two_agents_that_joined_serve_without_mismatches_a_third_that_joins_under_load_is_used_and_one_that_leaves_under_load_loses_nothing()
    {
        var model = SmallModels.Residual();
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new CoordinatorOptions
        {
            AttemptTimeout = TimeSpan.FromSeconds(3),
            HealthInterval = TimeSpan.FromMilliseconds(300),
            ProbeTimeout = TimeSpan.FromMilliseconds(500),
            MaxAttempts = 5,
            MinAgents = 2,
            Listening = address => listening.TrySetResult(address),
            ConfigureLogging = TestCluster.Logging,
        };
        // No agents given: the coordinator listens, then waits for two to join.
        var starting = CoordinatorHost.StartAsync(OnnxServing.Create(Graph.OnnxModel.Parse(model, "test"), "test"), [], new EvenComputePlanSource(), options);
        var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var agents = new List<AgentHost>();
        try
        {
            agents.Add(await JoinAsync("dev0", address));
            // The join is the agent's background call: dev1 starts once the coordinator has taken dev0's, so the
            // order they joined in, which the plan's stage order follows, is the order written here.
            Assert.True(SpinWait.SpinUntil(() => agents[0].Joined, TimeSpan.FromSeconds(30)), "dev0 did not join");
            Assert.False(starting.IsCompleted, "the coordinator must wait for the second agent");
            agents.Add(await JoinAsync("dev1", address));
            await using var coordinator = await starting.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(["dev0", "dev1"], coordinator.CurrentPlan!.Stages.Select(s => s.Device));

            var joinedOnly = await LoadTests.RunLoadAsync(address, null, model, onCompleted: null, requests: 40);
            Assert.Empty(joinedOnly.Failures);
            Assert.Equal(40, joinedOnly.Results.Count);

            // A third device joins while requests flow; the load goes on until it has run stages.
            Task<AgentHost>? third = null;
            var growing = await LoadTests.RunLoadAsync(address, null, model, done =>
            {
                if (done == 20)
                {
                    third = JoinAsync("dev2", address);
                }
            }, requests: 5000, until: () => third is { IsCompletedSuccessfully: true } && third.Result.Executed >= 20);
            agents.Add(await third!);
            Assert.Empty(growing.Failures);
            Assert.True(agents[2].Executed >= 20, $"dev2 ran {agents[2].Executed} stages");
            Assert.Contains("dev2", coordinator.Status().Plan!.Stages.Select(s => s.Device));
            Assert.Contains(growing.Results.Values, r => r.Hops.Any(h => h.Device == "dev2"));

            // dev1 leaves while requests flow: the coordinator moves the plan off it before it stops.
            var dev1 = agents[1];
            Task? leaving = null;
            int completed = 0, leftAt = int.MaxValue;
            var shrinking = await LoadTests.RunLoadAsync(address, null, model, done =>
            {
                Volatile.Write(ref completed, Math.Max(done, Volatile.Read(ref completed)));
                if (done == 20)
                {
                    leaving = dev1.DisposeAsync().AsTask().ContinueWith(_ => Volatile.Write(ref leftAt, Volatile.Read(ref completed)), TaskScheduler.Default);
                }
            }, requests: 5000, until: () => Volatile.Read(ref leftAt) is var left && left != int.MaxValue && Volatile.Read(ref completed) >= left + 40);
            await leaving!;
            agents.Remove(dev1);
            Assert.Empty(shrinking.Failures);
            var status = coordinator.Status();
            Assert.DoesNotContain("dev1", status.Plan!.Stages.Select(s => s.Device));
            Assert.False(status.Agents.Single(a => a.Name == "dev1").Alive);
            Assert.Equal(0, status.Failed);
            Assert.Equal(joinedOnly.Results.Count + growing.Results.Count + shrinking.Results.Count, status.Completed);
        }
        finally
        {
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_joined_agent_that_misses_its_heartbeats_is_gone_though_it_answers_probes_and_comes_back_when_it_joins_again()
    {
        const string token = "fleet-secret";
        var model = SmallModels.Residual();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var dev0 = await AgentHost.StartAsync(new AgentOptions("dev0") { CacheDirectory = Path.Combine(_cache, "dev0"), Token = token });
        // dev1 never heartbeats by itself: the test sends its join, then stays silent while it keeps answering probes.
        await using var dev1 = await AgentHost.StartAsync(new AgentOptions("dev1") { CacheDirectory = Path.Combine(_cache, "dev1"), Token = token });
        var options = new CoordinatorOptions
        {
            Token = token,
            TimeProvider = clock,
            HealthInterval = TimeSpan.FromSeconds(1),
            HeartbeatTimeout = TimeSpan.FromSeconds(5),
            ConfigureLogging = TestCluster.Logging,
        };
        // A static agent list, and joins accepted as well.
        await using var coordinator = await CoordinatorHost.StartAsync(OnnxServing.Create(Graph.OnnxModel.Parse(model, "test"), "test"), [new AgentEndpoint("dev0", dev0.Address)],
            new EvenComputePlanSource(), options);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var channels = new GrpcChannels(token);
        var connection = new CoordinatorConnection(channels.For(coordinator.Address), TimeProvider.System);
        var timeout = await connection.JoinAsync(new JoinNotice("dev1", dev1.Address, "cpu"), TimeSpan.FromSeconds(10), wait.Token);
        Assert.Equal(TimeSpan.FromSeconds(5), timeout);
        await coordinator.WaitForStatusAsync(s => s.Plan?.Stages.Any(st => st.Device == "dev1") == true, wait.Token);

        clock.Advance(TimeSpan.FromSeconds(6));
        var gone = await coordinator.WaitForStatusAsync(s => s.Agents.Any(a => a.Name == "dev1" && !a.Alive) && s.Plan?.Stages.All(st => st.Device == "dev0") == true, wait.Token);
        Assert.Equal(["dev0"], gone.Plan!.Stages.Select(s => s.Device));
        // dev1 still answers: probes alone never bring back a member that stopped its heartbeats.
        clock.Advance(TimeSpan.FromSeconds(1));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.DoesNotContain("dev1", coordinator.Status().Plan!.Stages.Select(s => s.Device));

        await connection.JoinAsync(new JoinNotice("dev1", dev1.Address, "cpu"), TimeSpan.FromSeconds(10), wait.Token);
        await coordinator.WaitForStatusAsync(s => s.Plan?.Stages.Any(st => st.Device == "dev1") == true, wait.Token);
        var input = Reference.Input(7);
        using var session = Reference.Session(model);
        var result = await coordinator.InferAsync([input], wait.Token);
        Assert.True(Reference.MaxAbsDiff(Reference.Monolithic(session, input), result.Outputs[0].ToFloats()) <= 1e-4);
    }

    [Fact]
    public async Task A_join_without_the_token_or_with_a_bad_address_is_refused_and_the_coordinator_keeps_serving()
    {
        const string token = "fleet-secret";
        var model = SmallModels.Residual();
        await using var dev0 = await AgentHost.StartAsync(new AgentOptions("dev0") { CacheDirectory = Path.Combine(_cache, "dev0"), Token = token });
        await using var coordinator = await CoordinatorHost.StartAsync(OnnxServing.Create(Graph.OnnxModel.Parse(model, "test"), "test"), [new AgentEndpoint("dev0", dev0.Address)],
            new EvenComputePlanSource(), new CoordinatorOptions { Token = token, ConfigureLogging = TestCluster.Logging });
        using var anonymous = new GrpcChannels(null);
        using var trusted = new GrpcChannels(token);
        var withoutToken = await Assert.ThrowsAsync<ClusterException>(() =>
            new CoordinatorConnection(anonymous.For(coordinator.Address), TimeProvider.System).JoinAsync(new JoinNotice("intruder", "127.0.0.1:1", null), TimeSpan.FromSeconds(10), default));
        Assert.Equal(FailureKind.Unauthenticated, withoutToken.Kind);
        var badAddress = await Assert.ThrowsAsync<ClusterException>(() =>
            new CoordinatorConnection(trusted.For(coordinator.Address), TimeProvider.System).JoinAsync(new JoinNotice("dev9", "not an address", null), TimeSpan.FromSeconds(10), default));
        Assert.Equal(FailureKind.BadRequest, badAddress.Kind);
        var status = coordinator.Status();
        Assert.Equal(["dev0"], status.Agents.Select(a => a.Name));
        var input = Reference.Input(3);
        using var session = Reference.Session(model);
        var result = await coordinator.InferAsync([input]);
        Assert.True(Reference.MaxAbsDiff(Reference.Monolithic(session, input), result.Outputs[0].ToFloats()) <= 1e-4);
    }

    private Task<AgentHost> JoinAsync(string name, string coordinator, string? token = null) =>
        AgentHost.StartAsync(new AgentOptions(name)
        {
            CacheDirectory = Path.Combine(_cache, name),
            Token = token,
            Join = coordinator,
            HeartbeatInterval = TimeSpan.FromMilliseconds(500),
            SendTimeout = TimeSpan.FromSeconds(3),
            ConfigureLogging = TestCluster.Logging,
        });

    public void Dispose()
    {
        try
        {
            Directory.Delete(_cache, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
