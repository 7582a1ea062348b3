using System.Diagnostics;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Planning;
using EdgeSplit.Reports;
using EdgeSplit.Runtime;
using EdgeSplit.Testbed.Config;
using EdgeSplit.Zoo;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Evaluation;

/// <summary>
/// Where to split, swept: the model cut at evenly spread points between the source device and the
/// device with the fastest link to it, each cut measured for real (sequential latency, pipelined
/// throughput) on emulated devices in the testbed's nominal conditions. Also Table 4.1.
/// </summary>
public static class SweepRunner
{
    /// <summary>Cuts measured per sweep: spread over the model (all of them for small models).</summary>
    public const int MaxCuts = 16;

    public static SweepReport Run(string modelName, TestbedSpec testbed, int seed, IProgress<LiveFrame>? progress, CancellationToken ct) =>
        RunAsync(modelName, testbed, seed, progress, ct).GetAwaiter().GetResult();

    public static async Task<SweepReport> RunAsync(string modelName, TestbedSpec testbed, int seed, IProgress<LiveFrame>? progress, CancellationToken ct)
    {
        var model = ExperimentRunner.PreparedModel.Prepare(modelName, seed);
        var source = testbed.Source;
        var other = testbed.Devices.Where(d => d.Name != source && testbed.Link(source, d.Name) is not null)
            .OrderByDescending(d => testbed.Link(source, d.Name)!.BandwidthMbps).ThenByDescending(d => d.Profile.RelativeCpuSpeed).FirstOrDefault()
            ?? throw new Graph.BadInputException($"testbed {testbed.Name} has no device linked to the source {source}; a sweep needs two linked devices");
        var conditions = new EmulatedConditions(testbed, new Scenario("nominal", TimeSpan.FromSeconds(1), []), 1);
        var snapshot = conditions.At(TimeSpan.Zero);
        var work = Directory.CreateTempSubdirectory("edgesplit-sweep-");
        var agents = new List<AgentHost>();
        CoordinatorHost? coordinator = null;
        try
        {
            foreach (var device in new[] { testbed.Device(source), other })
            {
                var file = Path.Combine(work.FullName, $"{device.Name}.links.json");
                EmulatedLinks.Write(file, conditions.LinksFileFor(snapshot, device.Name));
                agents.Add(await AgentHost.StartAsync(new AgentOptions(device.Name)
                {
                    CacheDirectory = Path.Combine(work.FullName, "cache", device.Name),
                    Emulation = EmulatedLinks.Open(file),
                    ConfigureLogging = l => l.ClearProviders(),
                }, ct));
            }
            var n = model.Profile.NodeCount;
            var plans = new List<(string Label, Plan Plan)>
            {
                ($"all on {source}", new Plan(1, [new Stage(source, 0, n - 1)])),
            };
            foreach (var cutIndex in Verifier.SpreadCuts(model.Onnx, MaxCuts))
            {
                var after = model.Onnx.Cuts[cutIndex].AfterNode;
                if (after < 0 || after >= n - 1) continue;
                plans.Add(($"cut {cutIndex} ({model.Onnx.Cuts[cutIndex].NodeName})", new Plan(1, [new Stage(source, 0, after), new Stage(other.Name, after + 1, n - 1)])));
            }
            plans.Add(($"all on {other.Name}", new Plan(1, [new Stage(other.Name, 0, n - 1)])));

            var endpoints = agents.Select(a => new AgentEndpoint(a.Name, a.Address)).ToList();
            coordinator = await CoordinatorHost.StartAsync(model.Served, endpoints, new FixedCutsPlanSource([]),
                new CoordinatorOptions { SourceDevice = source, ConfigureLogging = l => l.ClearProviders() }, plans[0].Plan with { Version = 1 }, ct);
            var points = new List<SweepPoint>();
            for (var i = 0; i < plans.Count; i++)
            {
                ct.ThrowIfCancellationRequested();
                var (label, plan) = plans[i];
                progress?.Report(new LiveFrame(model.Name, Strategy.Static, 0, 1, i, plans.Count, [], [.. plan.Stages.Select(s => new StageFrame(s.Device, s.FirstNode, s.LastNode))], n, double.NaN, 0, 0, 0, label));
                if (i > 0)
                {
                    await coordinator.SetPlanAsync(plan with { Version = coordinator.CurrentPlan!.Version + 1 }, reason: "sweep", ct: ct);
                }
                for (var w = 0; w < 2; w++) await coordinator.InferAsync(model.Inputs, ct);
                var sequential = new List<double>();
                for (var r = 0; r < 6; r++)
                {
                    var started = Stopwatch.GetTimestamp();
                    await coordinator.InferAsync(model.Inputs, ct);
                    sequential.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                // Pipelined: four requests in flight for a fixed window, so stages on different devices overlap.
                var window = Stopwatch.StartNew();
                var completed = 0;
                await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
                {
                    while (window.Elapsed < TimeSpan.FromSeconds(1.5))
                    {
                        await coordinator.InferAsync(model.Inputs, ct);
                        Interlocked.Increment(ref completed);
                    }
                }));
                points.Add(new SweepPoint(label, LatencySummary.Of(sequential).P50Ms, completed / window.Elapsed.TotalSeconds));
            }
            return new SweepReport(
                $"Where to split {model.Name} between {source} and {other.Name}",
                model.Name,
                testbed.Name,
                Emulated: true,
                $"{Environment.ProcessorCount} cores shared with other jobs; {ExperimentRunner.DeviceMode}",
                points,
                $"Each cut is measured for real on emulated devices in the testbed's nominal conditions: sequential latency is the median of 6 requests one at a time, " +
                $"pipelined throughput the requests completed with 4 in flight over 1.5 s. {Verifier.SpreadCuts(model.Onnx, MaxCuts).Count} cuts spread over the model's {model.Onnx.Cuts.Count}, plus the whole model on each device.");
        }
        finally
        {
            if (coordinator is not null) await coordinator.DisposeAsync();
            foreach (var agent in agents) await agent.DisposeAsync();
            try
            {
                work.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Left to the OS temp cleaner; the report does not depend on it.
            }
        }
    }

    /// <summary>
    /// Table 4.1: the six zoo models on each device profile: parameters, size, latency (measured on this host with
    /// ONNX Runtime, scaled by the profile's CPU speed: emulated) and peak memory (weights plus the largest live activations: estimated).
    /// </summary>
    public static Table41Report Table41(TestbedSpec testbed, int seed, IProgress<LiveFrame>? progress, CancellationToken ct)
    {
        var rows = new List<Table41Row>();
        var names = ModelZoo.BuiltNames;
        for (var i = 0; i < names.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            progress?.Report(new LiveFrame(names[i], Strategy.Single, 0, 1, i, names.Count, [], [], 0, double.NaN, 0, 0, 0, "timing"));
            var model = ExperimentRunner.PreparedModel.Prepare(names[i], seed);
            var hostMs = model.Profile.ReferenceNodeMs.Sum();
            var host = testbed.HostRelativeCpuSpeed ?? 1.0;
            var latencies = testbed.Devices.Select(d => new DeviceLatency($"{d.Name} ({d.Profile.Name})", hostMs * Math.Max(1, host / d.Profile.RelativeCpuSpeed))).ToList();
            var weightsBytes = model.Profile.NodeMemoryBytes.Sum();
            var sizeMb = model.Onnx.Proto.CalculateSize() / (1024.0 * 1024.0);
            var peakMb = (weightsBytes + 2 * Math.Max(model.Profile.InputBytes, model.Profile.CutBytes.DefaultIfEmpty(0).Max())) / (1024.0 * 1024.0);
            rows.Add(new Table41Row(model.Name, model.Onnx.ParameterCount, sizeMb, latencies, peakMb));
        }
        return new Table41Report(
            $"Table 4.1 on {testbed.Name}: the zoo on each device profile",
            testbed.Name,
            Emulated: true,
            $"{Environment.ProcessorCount} cores shared with other jobs",
            rows,
            "Latency is the whole model measured on this host with ONNX Runtime (1 thread) and scaled by each profile's relative CPU speed, so it is emulated; " +
            "peak memory is estimated as the weights plus twice the largest tensor crossing a cut, not metered.");
    }
}
