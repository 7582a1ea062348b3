using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using EdgeSplit.Tests;
using Microsoft.Extensions.Time.Testing;

namespace EdgeSplit.Cluster.Tests;

/// <summary>
/// The adaptation loop on real agents (loopback Kestrel, real ORT). The planner's profile keeps the
/// measured model structure (memory, cut bytes) but gets fixed node costs, so that placements are
/// decided by the conditions each test changes; the cost model's correction is off where it would
/// learn those costs away from the tiny real graph. Where only CPU load matters, coordinator and agents
/// share a <see cref="FakeTimeProvider"/>: each step advances it one metrics period and waits for the
/// decision that tick makes, so nothing sleeps. Tests that measure links run on the real clock.
/// </summary>
public sealed class AdaptiveTests
{
    private const int Nodes = 6, Channels = 8, Size = 40; // input 51 kB: above the bandwidth estimator's minimum transfer

    private static readonly byte[] Model = SmallModels.Chain(Nodes, Channels, Size);

    private static readonly Lazy<SegmentProfile> MeasuredProfile = new(() => ModelProfiling.Measure(Graph.OnnxModel.Parse(Model, "chain"), options: new ProfilerOptions(WarmupRuns: 1, TimedRuns: 3, ProfiledRuns: 1)).Profile);

    private static SegmentProfile Profile(double nodeMs) => MeasuredProfile.Value with { ReferenceNodeMs = [.. Enumerable.Repeat(nodeMs, Nodes)], DeviceNodeMs = null };

    private static WireTensor Input(int seed)
    {
        var random = new Random(seed);
        var values = Enumerable.Range(0, Channels * Size * Size).Select(_ => (float)random.NextDouble()).ToArray();
        return WireTensor.FromFloats("x", [1, Channels, Size, Size], values);
    }

    private static AdaptationOptions Eager => new(SwitchCost: 1, WindowRequests: 100, HysteresisFraction: 0.1, MinDwell: TimeSpan.Zero, ReplanThreshold: 0.05);

    private static Dictionary<string, DeviceSpec> Speeds(params double[] speeds) =>
        speeds.Select((s, i) => new DeviceSpec($"dev{i}", s, 1, 0, DevicePowerModel.None)).ToDictionary(d => d.Name);

    [Fact]
    public async Task Optimal_moves_work_off_an_agent_whose_cpu_is_taken()
    {
        await using var cluster = await AdaptiveCluster.StartAsync(2, Profile(20), new AdaptiveOptions("optimal", Objective.Latency, Speeds(1, 4), CostCorrection: false, Adaptation: Eager), cpuBusy: [0, 0], fakeTime: true);
        await cluster.StepUntilAsync(p => p.Stages.All(s => s.Device == "dev1"), "all work on the fast dev1");

        cluster.Agents[1].CpuUtilisationOverride = 0.95; // emulated: someone else takes 95% of dev1's CPU
        var plan = await cluster.StepUntilAsync(p => p.Stages.All(s => s.Device == "dev0"), "all work back on dev0");

        var status = cluster.Host.Status();
        Assert.True(status.Adaptation!.Counts.GetValueOrDefault(nameof(AdaptationReason.Worthwhile)) >= 1, string.Join(", ", status.Adaptation.Counts));
        Assert.Contains(status.Adaptation.Recent, d => d.Switched && d.Plan == plan.Signature() && d.PredictedGain > 0);
        var result = await cluster.Host.InferAsync([Input(1)]);
        Assert.Equal(plan.Version, result.PlanVersion);
    }

    [Fact]
    public async Task Static_keeps_its_start_plan_when_the_cpu_is_taken()
    {
        await using var cluster = await AdaptiveCluster.StartAsync(2, Profile(20), new AdaptiveOptions("static", Objective.Latency, Speeds(1, 4), CostCorrection: false, Adaptation: Eager), cpuBusy: [0, 0], fakeTime: true);
        var start = await cluster.StepUntilAsync(p => p.Stages.All(s => s.Device == "dev1"), "all work on the fast dev1");

        cluster.Agents[1].CpuUtilisationOverride = 0.95;
        // Six metrics periods: time enough for optimal to move (the test above), none for static.
        await cluster.StepsAsync(6);

        Assert.Equal(start, cluster.Host.CurrentPlan);
        var status = cluster.Host.Status().Adaptation!;
        Assert.Equal(1, status.Switches);
        Assert.True(status.Counts.GetValueOrDefault(nameof(AdaptationReason.SamePlan)) > 0, string.Join(", ", status.Counts));
    }

    [Fact]
    public async Task A_dead_device_forces_even_static_to_replan_and_requests_still_answer()
    {
        await using var cluster = await AdaptiveCluster.StartAsync(2, Profile(20), new AdaptiveOptions("static", Objective.Latency, Speeds(1, 4), CostCorrection: false, Adaptation: Eager), cpuBusy: [0, 0], fakeTime: true);
        await cluster.StepUntilAsync(p => p.Stages.All(s => s.Device == "dev1"), "all work on the fast dev1");

        await cluster.Agents[1].KillAsync();
        var result = await cluster.Host.InferAsync([Input(7)]);

        Assert.All(cluster.Host.CurrentPlan!.Stages, s => Assert.Equal("dev0", s.Device));
        Assert.Equal(cluster.Host.CurrentPlan.Version, result.PlanVersion);
        Assert.Contains(cluster.Host.Status().Adaptation!.Recent, d => d.Switched && d.Reason == nameof(AdaptationReason.CurrentInfeasible));
    }

    [Fact]
    public async Task A_collapsing_link_keeps_the_work_on_the_source()
    {
        await using var cluster = await AdaptiveCluster.StartAsync(2, Profile(20), new AdaptiveOptions("optimal", Objective.Latency, Speeds(1, 6), CostCorrection: false, Adaptation: Eager), emulateLinks: true, cpuBusy: [0, 0]);
        await cluster.ServeUntilAsync(p => p.Stages.All(s => s.Device == "dev1"), "all work on the fast dev1");

        // The camera's uplink to dev1 collapses to 1 Mbit/s and 150 ms (paced by the sender, as on the loopback testbed).
        EmulatedLinks.Write(cluster.LinkFile(0), new EmulatedLinksFile("dev0", null, [new EmulatedLink("dev1", [cluster.Agents[1].Address], 150, 1, ShapedByKernel: false)]));
        var plan = await cluster.ServeUntilAsync(p => p.Stages.All(s => s.Device == "dev0"), "all work on the source");

        var status = cluster.Host.Status();
        var link = status.Devices.Single(d => d.Name == "dev0").Links.Single(l => l.Peer == "dev1");
        // The agents' measurements saw the collapse (RTT from pings, bandwidth from the slowed transfers).
        Assert.True(link.RttMs > 20 || link.BytesPerSecond < 2e6, $"{link.BytesPerSecond} B/s; {string.Join(" / ", status.Adaptation!.Recent.Where(d => d.Switched).Select(d => $"{d.Reason} {d.Detail} {d.OldPlan}->{d.Plan} {d.OldValue:F1}->{d.NewValue:F1}"))}");
        Assert.Equal(plan.Version, (await cluster.Host.InferAsync([Input(2)])).PlanVersion);
    }

    [Fact]
    public async Task Jittering_cpu_around_the_tie_is_logged_and_counted_without_flapping()
    {
        // dev1 is twice as fast: at 50% availability both placements tie; the load jitters 44%..56% around it
        // (enough to move the smoothed availability past the 5 % re-plan threshold, so the planner is asked).
        await using var cluster = await AdaptiveCluster.StartAsync(2, Profile(10), new AdaptiveOptions("optimal", Objective.Latency, Speeds(1, 2), CostCorrection: false, Adaptation: Eager), cpuBusy: [0, 0.5], fakeTime: true);
        await cluster.StepsAsync(2);
        var before = cluster.Host.Status().Adaptation!;
        for (var i = 0; i < 16; i++)
        {
            cluster.Agents[1].CpuUtilisationOverride = i % 2 == 0 ? 0.44 : 0.56;
            await cluster.StepsAsync(1);
        }
        var after = cluster.Host.Status().Adaptation!;

        Assert.Equal(16, after.Decisions - before.Decisions);
        Assert.Equal(after.Decisions, after.Counts.Values.Sum());
        Assert.True(before.Switches == after.Switches, string.Join(" / ", after.Recent.Where(d => d.Switched).Select(d => $"{d.Reason} {d.Detail} {d.OldPlan}->{d.Plan} {d.OldValue:F1}->{d.NewValue:F1}")));
        Assert.True(after.Counts.GetValueOrDefault(nameof(AdaptationReason.WithinHysteresis)) + after.Counts.GetValueOrDefault(nameof(AdaptationReason.SamePlan)) > 0, string.Join(", ", after.Counts));
        Assert.All(after.Recent, d => Assert.False(string.IsNullOrEmpty(d.Reason)));
        Assert.True(after.MeanDecisionMs > 0);
    }

    [Fact]
    public async Task Rl_learns_from_served_requests_and_its_policy_is_saved_and_reloaded()
    {
        var file = Path.Combine(Path.GetTempPath(), $"edgesplit-rl-{Guid.NewGuid():N}.json");
        try
        {
            var options = new AdaptiveOptions("rl", Objective.Latency, Speeds(1, 2), RlPolicyFile: file) { RlWindowRequests = 2 };
            await using (var cluster = await AdaptiveCluster.StartAsync(2, Profile(1), options))
            {
                for (var i = 0; i < 12; i++)
                {
                    var result = await cluster.Host.InferAsync([Input(i)]);
                    Assert.True(result.LatencyMs > 0);
                    Assert.NotEmpty(result.Hops);
                }
                var status = cluster.Host.Status().Adaptation!;
                Assert.Equal("rl", status.Planner);
                Assert.Equal(12, status.ObservedRequests);
                Assert.IsType<RlPlanSource>(cluster.Host.Adaptive);
                Assert.True(((RlPlanner)cluster.Host.Adaptive!.Planner).LearnedRequests > 0);
                using var client = new ClusterClient(cluster.Host.Address);
                var remote = await client.InferAsync([Input(99)]);
                Assert.NotEmpty(remote.Hops);
                Assert.True(double.IsFinite(remote.EstimatedEnergyJ), $"energy {remote.EstimatedEnergyJ}");
            }
            Assert.True(File.Exists(file));
            using var reloaded = AdaptivePlanSource.Create(options, Profile(1));
            Assert.True(((RlPlanner)reloaded.Planner).LearnedRequests > 0);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Passive_bandwidth_estimates_appear_in_the_metrics_after_traffic()
    {
        await using var cluster = await AdaptiveCluster.StartAsync(2, Profile(1), null, fixedCuts: [2]);
        for (var i = 0; i < 4; i++)
        {
            var result = await cluster.Host.InferAsync([Input(i)]);
            Assert.Equal(["dev0", "dev1"], result.Hops.Select(h => h.Device));
            Assert.All(result.Hops, h => Assert.True(h.ComputeMs > 0));
            Assert.Equal("dev0", result.Hops[1].FromDevice);
            Assert.True(result.Hops[1].BytesIn > 32 * 1024);
        }
        Assert.True(cluster.Agents[0].LinkEstimates.Single().TransferSamples >= 4);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var status = await cluster.Host.WaitForStatusAsync(s =>
            s.Devices.Single(d => d.Name == "dev0").Links.SingleOrDefault(l => l.Peer == "dev1")?.BytesPerSecond > 0 && s.Devices.Single(d => d.Name == "dev1").Links.Count == 1, bound.Token);
        var dev0 = status.Devices.Single(d => d.Name == "dev0");
        var dev1 = status.Devices.Single(d => d.Name == "dev1");
        Assert.True(dev0.Links.Single(l => l.Peer == "dev1").BytesPerSecond > 0);
        Assert.True(dev0.Links.Single(l => l.Peer == "dev1").RttMs > 0);
        // Nothing was ever sent from dev1 to dev0 and probes are off: no bandwidth is claimed there.
        Assert.Equal(0, dev1.Links.Single(l => l.Peer == "dev0").BytesPerSecond);
    }

    /// <summary>Agents on loopback plus an adaptive (or fixed) coordinator, with fast metrics, on a fake or the real clock.</summary>
    private sealed class AdaptiveCluster : IAsyncDisposable
    {
        private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(150);
        private readonly string _root = Directory.CreateTempSubdirectory("edgesplit-adaptive-tests-").FullName;

        public List<AgentHost> Agents { get; } = [];

        public CoordinatorHost Host { get; private set; } = null!;

        /// <summary>The clock of coordinator and agents when started with <c>fakeTime</c>.</summary>
        public FakeTimeProvider? Time { get; private set; }

        public string LinkFile(int agent) => Path.Combine(_root, $"links-dev{agent}.json");

        public static async Task<AdaptiveCluster> StartAsync(int agents, SegmentProfile profile, AdaptiveOptions? adaptive, bool emulateLinks = false, IReadOnlyList<int>? fixedCuts = null, double[]? cpuBusy = null, bool fakeTime = false)
        {
            var cluster = new AdaptiveCluster { Time = fakeTime ? new FakeTimeProvider(DateTimeOffset.UtcNow) : null };
            TimeProvider time = cluster.Time is null ? TimeProvider.System : cluster.Time;
            try
            {
                for (var i = 0; i < agents; i++)
                {
                    EmulatedLinks? links = null;
                    if (emulateLinks)
                    {
                        EmulatedLinks.Write(cluster.LinkFile(i), new EmulatedLinksFile($"dev{i}", null, []));
                        links = EmulatedLinks.Open(cluster.LinkFile(i));
                    }
                    cluster.Agents.Add(await AgentHost.StartAsync(new AgentOptions($"dev{i}")
                    {
                        CacheDirectory = Path.Combine(cluster._root, $"dev{i}"),
                        SendTimeout = TimeSpan.FromSeconds(3),
                        Emulation = links,
                        CpuUtilisationOverride = cpuBusy?[i],
                        ProbeBytes = adaptive is null ? 0 : 64 * 1024,
                        TimeProvider = time,
                        ConfigureLogging = TestCluster.Logging,
                    }));
                }
                var served = OnnxServing.Create(Graph.OnnxModel.Parse(Model, "chain"), "chain") with { Profile = profile };
                var endpoints = cluster.Agents.Select(a => new AgentEndpoint(a.Name, a.Address)).ToList();
                var options = new CoordinatorOptions
                {
                    AttemptTimeout = TimeSpan.FromSeconds(5),
                    HealthInterval = TimeSpan.FromMilliseconds(300),
                    MetricsInterval = Interval,
                    // On the fake clock a retry must not wait for the test to move time.
                    RetryDelay = TimeSpan.Zero,
                    TimeProvider = time,
                    ConfigureLogging = TestCluster.Logging,
                };
                cluster.Host = adaptive is null
                    ? await CoordinatorHost.StartAsync(served, endpoints, new FixedCutsPlanSource(fixedCuts ?? []), options)
                    : await CoordinatorHost.StartAsync(served, endpoints, adaptive with { MetricsInterval = Interval }, options);
                return cluster;
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }

        /// <summary>
        /// Advances the fake clock one metrics period at a time, each time waiting for what that period brings:
        /// every live agent's sample of the new moment, and the decision of the tick (made on the samples so far).
        /// </summary>
        public async Task StepsAsync(int steps)
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            for (var i = 0; i < steps; i++)
            {
                var before = Host.Status();
                var decisions = before.Adaptation?.Decisions ?? 0;
                Time!.Advance(Interval);
                var now = Time.GetUtcNow();
                await Host.WaitForStatusAsync(s =>
                    ((s.Adaptation?.Decisions ?? 0) > decisions || s.Plan?.Version != before.Plan?.Version)
                    && s.Devices.Where(d => d.Alive).All(d => d.Time >= now.AddMilliseconds(-1)), bound.Token);
            }
        }

        /// <summary>Steps the fake clock until the deployed plan satisfies <paramref name="wanted"/> (at most 40 periods).</summary>
        public async Task<Plan> StepUntilAsync(Func<Plan, bool> wanted, string what)
        {
            for (var step = 0; step < 40; step++)
            {
                if (Host.CurrentPlan is { } plan && wanted(plan))
                {
                    return plan;
                }
                await StepsAsync(1);
            }
            return Fail(what);
        }

        /// <summary>On the real clock: serves requests (their transfers are what the agents measure) until the deployed plan satisfies <paramref name="wanted"/> (bounded, 15 s).</summary>
        public async Task<Plan> ServeUntilAsync(Func<Plan, bool> wanted, string what)
        {
            var until = System.Diagnostics.Stopwatch.StartNew();
            var seed = 0;
            while (until.Elapsed < TimeSpan.FromSeconds(15))
            {
                if (Host.CurrentPlan is { } plan && wanted(plan))
                {
                    return plan;
                }
                await Host.InferAsync([Input(seed++)]);
            }
            return Fail(what);
        }

        private Plan Fail(string what)
        {
            var status = Host.Status();
            Assert.Fail($"never reached {what}; plan {Host.CurrentPlan}; clock {Time?.GetUtcNow():HH:mm:ss.fff}; devices {string.Join(", ", status.Devices.Select(d => $"{d.Name} {d.Time:HH:mm:ss.fff} cpu {d.CpuUtilisation}"))}; decisions: {string.Join(" / ", status.Adaptation?.Recent.TakeLast(5).Select(d => $"{d.Reason} {d.Detail} {d.Plan}") ?? [])}");
            return null!;
        }

        public async ValueTask DisposeAsync()
        {
            if (Host is not null)
            {
                await Host.DisposeAsync();
            }
            foreach (var agent in Agents)
            {
                await agent.DisposeAsync();
            }
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
