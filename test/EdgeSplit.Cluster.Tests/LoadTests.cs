using System.Collections.Concurrent;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Tests;
using Grpc.Core;

namespace EdgeSplit.Cluster.Tests;

public sealed class LoadTests
{
    private const int Requests = 200, Concurrency = 8;

    [Fact]
    public async Task Two_hundred_requests_at_concurrency_8_all_answer_their_own_input()
    {
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [1, 3]);
        var run = await RunLoadAsync(cluster, model, onCompleted: null);
        Assert.Empty(run.Failures);
        Assert.Equal(Requests, run.Results.Count);
        Assert.Equal(Requests, run.Results.Keys.Distinct().Count());
        Assert.Equal(Requests, cluster.Coordinator!.Status().Completed);
    }

    [Fact]
    public async Task Plan_switch_under_load_loses_nothing_and_answers_nothing_twice()
    {
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [1, 3]);
        var coordinator = cluster.Coordinator!;
        Task<PlanSwitch>? switchTask = null;
        var run = await RunLoadAsync(cluster, model, onCompleted: done =>
        {
            if (done == 60)
            {
                // A different cut and a different device order: every partition is new.
                switchTask = coordinator.SetPlanAsync(Reference.Chain(7, [2, 4], "dev0", "dev2", "dev1"));
            }
        });
        var record = await switchTask!;
        Assert.Empty(run.Failures);
        Assert.Equal(Requests, run.Results.Count);
        Assert.Equal(2, record.ToVersion);
        Assert.True(record.Duration > TimeSpan.Zero);
        Assert.Contains(run.Results.Values, r => r.PlanVersion == 1);
        Assert.Contains(run.Results.Values, r => r.PlanVersion == 2);
        var status = coordinator.Status();
        Assert.Equal(Requests, status.Completed);
        Assert.Equal(0, status.Failed);
        Assert.Equal(["dev0", "dev2", "dev1"], status.Plan!.Stages.Select(s => s.Device));
    }

    [Fact]
    public async Task Agent_killed_mid_load_loses_nothing_and_its_segment_moves()
    {
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [1, 3]);
        var run = await RunLoadKillingAsync(cluster, model, agent: 1, atCompletion: 50);
        Assert.Empty(run.Failures);
        Assert.Equal(Requests, run.Results.Count);
        var status = cluster.Coordinator!.Status();
        Assert.DoesNotContain("dev1", status.Plan!.Stages.Select(s => s.Device));
        Assert.False(status.Agents.Single(a => a.Name == "dev1").Alive);
        Assert.True(status.Switches.Count >= 2);
    }

    [Fact]
    public async Task Agent_that_stops_answering_mid_load_is_found_by_a_missed_probe_and_no_request_waits_out_its_attempt()
    {
        var model = SmallModels.Residual();
        var log = new CapturedLog();
        // The default 10 s attempt timeout: before the fix every request on the hung device waited it out.
        var attempt = TimeSpan.FromSeconds(10);
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [1, 3], attemptTimeout: attempt, proxied: true,
            configure: o => o with { ConfigureLogging = log.Configure(TestCluster.Logging) });
        long frozenAt = 0;
        var run = await RunLoadAsync(cluster, model, onCompleted: done =>
        {
            if (done == 50)
            {
                // A hung device (test double of a SIGSTOPped process): its connections stay open, nothing passes.
                cluster.Proxies[1].Freeze();
                Interlocked.Exchange(ref frozenAt, System.Diagnostics.Stopwatch.GetTimestamp());
            }
        });
        Assert.Empty(run.Failures);
        Assert.Equal(Requests, run.Results.Count);
        var status = cluster.Coordinator!.Status();
        Assert.DoesNotContain("dev1", status.Plan!.Stages.Select(s => s.Device));
        // Marked down for a probe it did not answer (the stalled request's, or the periodic one's second miss, whichever came first).
        Assert.True(log.MarkedDownForAMissedProbe("dev1"), "dev1 was not marked down for a missed probe");
        // The stall (0.3 s) and its probe (0.5 s here) route around it in about a second (Bench.Faults prints the figure); the
        // bound only says that nothing waited out its attempt, which a busy 2-core CI host must not turn into a failure.
        var gap = run.LongestGapAfter(frozenAt);
        Assert.True(gap < attempt / 2, $"no request completed for {gap.TotalSeconds:F2} s after the device hung");
    }

    [Fact]
    public async Task With_no_agent_left_infer_fails_fast_with_a_clear_status()
    {
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 1);
        using var client = new ClusterClient(cluster.Coordinator!.Address);
        await client.InferAsync([Reference.Input(0)]);
        await cluster.Agents[0].KillAsync();
        var first = await Assert.ThrowsAsync<RpcException>(() => client.InferAsync([Reference.Input(1)]));
        Assert.Contains(first.StatusCode, new[] { StatusCode.FailedPrecondition, StatusCode.Unavailable });
        // Once the coordinator knows nothing fits, it answers at once, without trying any device.
        var second = await Assert.ThrowsAsync<RpcException>(() => client.InferAsync([Reference.Input(2)]));
        Assert.Equal(StatusCode.FailedPrecondition, second.StatusCode);
        Assert.Contains("no agent", second.Status.Detail);
        // Status counts every failure the client saw, those refused before any attempt too.
        Assert.Equal(2, (await client.StatusAsync()).Failed);
    }

    internal sealed record LoadRun(ConcurrentDictionary<int, InferResult> Results, ConcurrentBag<string> Failures, ConcurrentQueue<long> Completions)
    {
        /// <summary>The longest stretch without a completed request from <paramref name="since"/> (a Stopwatch timestamp) to the last completion.</summary>
        public TimeSpan LongestGapAfter(long since)
        {
            var times = Completions.Where(t => t >= since).Order().Prepend(since).ToList();
            return times.Zip(times.Skip(1)).Select(p => System.Diagnostics.Stopwatch.GetElapsedTime(p.First, p.Second)).DefaultIfEmpty().Max();
        }
    }

    /// <summary>The load of <see cref="RunLoadAsync(TestCluster, byte[], Action{int}?, int)"/>, with agent <paramref name="agent"/> killed at the <paramref name="atCompletion"/>-th answer.</summary>
    internal static async Task<LoadRun> RunLoadKillingAsync(TestCluster cluster, byte[] model, int agent, int atCompletion)
    {
        Task? kill = null;
        var run = await RunLoadAsync(cluster, model, onCompleted: done =>
        {
            if (done == atCompletion)
            {
                kill = cluster.Agents[agent].KillAsync();
            }
        });
        await kill!;
        return run;
    }

    /// <summary>Sends seeded requests through the gRPC client and checks each answer against its own input.</summary>
    internal static Task<LoadRun> RunLoadAsync(TestCluster cluster, byte[] model, Action<int>? onCompleted, int requests = Requests) =>
        RunLoadAsync(cluster.Coordinator!.Address, cluster.Token, model, onCompleted, requests, tls: cluster.Tls);

    /// <summary>Up to <paramref name="requests"/> requests at concurrency 8, each checked against the monolithic output; none sent once <paramref name="until"/> holds.</summary>
    internal static async Task<LoadRun> RunLoadAsync(string coordinator, string? token, byte[] model, Action<int>? onCompleted, int requests = Requests, Func<bool>? until = null,
        Cluster.Transport.TlsSettings? tls = null)
    {
        using var session = Reference.Session(model);
        using var client = new ClusterClient(coordinator, token, tls: tls);
        var results = new ConcurrentDictionary<int, InferResult>();
        var failures = new ConcurrentBag<string>();
        var completions = new ConcurrentQueue<long>();
        var done = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (seed, ct) =>
        {
            if (until?.Invoke() == true)
            {
                return;
            }
            var input = Reference.Input(seed);
            try
            {
                var result = await client.InferAsync([input], TimeSpan.FromSeconds(60), ct);
                var diff = Reference.MaxAbsDiff(Reference.Monolithic(session, input), result.Outputs[0].ToFloats());
                if (diff > 1e-4)
                {
                    failures.Add($"request {seed}: max abs diff {diff}");
                }
                if (!results.TryAdd(seed, result))
                {
                    failures.Add($"request {seed} answered twice");
                }
                completions.Enqueue(System.Diagnostics.Stopwatch.GetTimestamp());
            }
            catch (RpcException ex)
            {
                failures.Add($"request {seed}: {ex.StatusCode} {ex.Status.Detail}");
            }
            onCompleted?.Invoke(Interlocked.Increment(ref done));
        });
        return new LoadRun(results, failures, completions);
    }
}
