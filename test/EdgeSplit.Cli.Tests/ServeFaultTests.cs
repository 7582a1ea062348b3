using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Runtime.Codec;
using EdgeSplit.Tests;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cli.Tests;

/// <summary>Runs alone: it times how long serving stalls, which other tests' load would disturb.</summary>
[CollectionDefinition(nameof(ServeFaultCollection), DisableParallelization = true)]
public sealed class ServeFaultCollection;

/// <summary>The adversarial tester's faults that need real processes: a SIGSTOPped agent, a restarted coordinator, the token's ways in.</summary>
[Collection(nameof(ServeFaultCollection))]
public sealed class ServeFaultTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgesplit-serve-faults-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly long[] Shape = [1, SmallModels.Channels, SmallModels.Size, SmallModels.Size];

    private static WireTensor Input(int seed)
    {
        var random = new Random(seed);
        return WireTensor.FromFloats("x", Shape, [.. Enumerable.Range(0, (int)Shape.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)random.NextDouble())]);
    }

    /// <summary>EDGESPLIT_TEST_LOG=1 prints the coordinator's log while debugging a test.</summary>
    private static void Logging(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("EDGESPLIT_TEST_LOG") == "1")
        {
            logging.SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft", LogLevel.Warning).AddSimpleConsole(o => o.TimestampFormat = "HH:mm:ss.fff ");
        }
    }

    private static ServedModel Served() => OnnxServing.Create(Graph.OnnxModel.Parse(SmallModels.Residual(), "residual"), "residual");

    [Fact]
    public async Task A_sigstopped_agent_under_load_is_found_by_a_missed_probe_and_nothing_fails_or_waits_out_its_attempt()
    {
        var agents = new List<AgentProcess>();
        try
        {
            agents.AddRange(await Task.WhenAll(new[] { "a", "b", "c" }.Select(name => AgentProcess.StartAsync(name, Path.Combine(_dir, name)))));
            // The coordinator's defaults (10 s attempts): before the fix, requests on the stopped agent waited all of it.
            var log = new CapturedLog();
            var options = new CoordinatorOptions { ConfigureLogging = log.Configure(Logging) };
            await using var coordinator = await CoordinatorHost.StartAsync(Served(), [.. agents.Select(a => new AgentEndpoint(a.Name, a.Address))],
                new FixedCutsPlanSource([1, 3]), options);
            using var client = new ClusterClient(coordinator.Address);
            var completions = new ConcurrentQueue<long>();
            var failures = new ConcurrentBag<string>();
            long stoppedAt = 0;
            var done = 0;
            await Parallel.ForEachAsync(Enumerable.Range(0, 240), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (seed, ct) =>
            {
                try
                {
                    await client.InferAsync([Input(seed)], TimeSpan.FromSeconds(60), ct);
                    completions.Enqueue(Stopwatch.GetTimestamp());
                }
                catch (RpcException ex)
                {
                    failures.Add($"{seed}: {ex.StatusCode} {ex.Status.Detail}");
                }
                if (Interlocked.Increment(ref done) == 60)
                {
                    agents[1].Stop();
                    if (Environment.GetEnvironmentVariable("EDGESPLIT_TEST_LOG") == "1")
                    {
                        Console.WriteLine($"{DateTime.Now:HH:mm:ss.fff} stopped agent b");
                    }
                    Interlocked.Exchange(ref stoppedAt, Stopwatch.GetTimestamp());
                }
            });

            Assert.Empty(failures);
            var times = completions.Where(t => t >= stoppedAt).Order().Prepend(stoppedAt).ToList();
            var gap = times.Zip(times.Skip(1)).Max(p => Stopwatch.GetElapsedTime(p.First, p.Second));
            // Found by a probe it missed (the stalled request's, 0.3 + 0.75 s by default, or a periodic one), not by the attempt deadline. The
            // issue's 1.5 s is a figure Bench.Faults prints; this bound only says that nothing waited out its attempt,
            // which other test assemblies loading a 2-core CI host must not turn into a failure.
            Assert.True(log.MarkedDownForAMissedProbe("b"), "b was not marked down for a missed probe");
            Assert.True(gap < options.AttemptTimeout / 2, $"no request completed for {gap.TotalSeconds:F2} s after the agent was stopped");
            Assert.DoesNotContain("b", coordinator.CurrentPlan!.Stages.Select(s => s.Device));
        }
        finally
        {
            agents.ForEach(a => a.Dispose());
        }
    }

    [Fact]
    public async Task Infer_rides_out_a_coordinator_restart_and_reports_p99_and_max()
    {
        var agents = new List<AgentHost>();
        try
        {
            foreach (var name in new[] { "a", "b" })
            {
                agents.Add(await AgentHost.StartAsync(new AgentOptions(name) { CacheDirectory = Path.Combine(_dir, name), ConfigureLogging = l => l.ClearProviders() }));
            }
            var endpoints = agents.Select(a => new AgentEndpoint(a.Name, a.Address)).ToList();
            var options = new CoordinatorOptions { ConfigureLogging = Logging };
            var first = await CoordinatorHost.StartAsync(Served(), endpoints, new FixedCutsPlanSource([3]), options);
            var model = Path.Combine(_dir, "residual.onnx");
            File.WriteAllBytes(model, SmallModels.Residual());
            var infer = Task.Run(() => CliProcess.Run(TimeSpan.FromMinutes(2), "infer", "--server", first.Address, "--random", "--count", "300", "--concurrency", "4", "--check", model, "--json"));

            using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await first.WaitForStatusAsync(s => s.Completed >= 30, bound.Token);
            var address = first.Address;
            await first.DisposeAsync();
            await using var second = await CoordinatorHost.StartAsync(Served(), endpoints, new FixedCutsPlanSource([3]), options with { Listen = address });
            var result = await infer;

            Assert.True(result.ExitCode == 0, result.ToString());
            var json = JsonDocument.Parse(result.StdOut).RootElement;
            Assert.Equal(0, json.GetProperty("failed").GetInt32());
            Assert.Equal(0, json.GetProperty("mismatches").GetInt32());
            Assert.True(json.GetProperty("max_ms").GetDouble() >= json.GetProperty("p99_ms").GetDouble());
            Assert.True(json.GetProperty("p99_ms").GetDouble() >= json.GetProperty("p95_ms").GetDouble());
            Assert.True(second.Status().Completed > 0);
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
    public async Task The_token_comes_from_a_file_or_the_environment_and_an_open_agent_warns()
    {
        var file = Path.Combine(_dir, "token");
        File.WriteAllText(file, "s3cret-from-file\n");
        using (var fromFile = await AgentProcess.StartAsync("f", Path.Combine(_dir, "f"), null, "--token-file", file))
        {
            Assert.DoesNotContain("s3cret", fromFile.CommandLine);
            await AssertTokenAsync(fromFile.Address, "s3cret-from-file");
            Assert.DoesNotContain("without a token", fromFile.StdErr);
        }
        using (var fromEnvironment = await AgentProcess.StartAsync("e", Path.Combine(_dir, "e"), new Dictionary<string, string> { [TokenOptions.EnvironmentVariable] = "s3cret-from-env" }))
        {
            Assert.DoesNotContain("s3cret", fromEnvironment.CommandLine);
            await AssertTokenAsync(fromEnvironment.Address, "s3cret-from-env");
        }
        using var open = await AgentProcess.StartAsync("o", Path.Combine(_dir, "o"));
        Assert.True(await open.PrintedAsync("runs without a token", TimeSpan.FromSeconds(30)), open.StdErr);
    }

    /// <summary>The agent refuses a call without the token and answers one with it.</summary>
    private static async Task AssertTokenAsync(string address, string token)
    {
        foreach (var (presented, allowed) in new[] { ((string?)null, false), (token, true) })
        {
            var (channel, invoker) = Cluster.Transport.GrpcChannels.Open(address, presented);
            using var _ = channel;
            var ping = new Cluster.Protos.Agent.AgentClient(invoker).PingAsync(new Cluster.Protos.PingRequest()).ResponseAsync;
            if (allowed)
            {
                await ping;
            }
            else
            {
                Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => ping)).StatusCode);
            }
        }
    }
}
