using System.Diagnostics;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Planning;
using EdgeSplit.Reports;
using EdgeSplit.Runtime;
using EdgeSplit.Testbed;
using EdgeSplit.Testbed.Backends;
using EdgeSplit.Testbed.Calibration;
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

    public static SweepReport Run(string modelName, TestbedSpec testbed, int seed, IProgress<LiveFrame>? progress, CancellationToken ct, bool forceInProcess = false) =>
        RunAsync(modelName, testbed, seed, progress, ct, forceInProcess).GetAwaiter().GetResult();

    public static async Task<SweepReport> RunAsync(string modelName, TestbedSpec testbed, int seed, IProgress<LiveFrame>? progress, CancellationToken ct, bool forceInProcess = false, Action<string>? log = null)
    {
        var model = PreparedModel.Prepare(modelName, seed);
        var source = testbed.Source;
        var host = HostCalibration.LoadOrMeasure(log, ct);
        var other = testbed.Devices.Where(d => d.Name != source && testbed.Link(source, d.Name) is not null)
            .OrderByDescending(d => testbed.Link(source, d.Name)!.BandwidthMbps).ThenByDescending(d => UnitSpeed.Of(d.Unit, host, model.Name).HostCores).FirstOrDefault()
            ?? throw new Graph.BadInputException($"testbed {testbed.Name} has no device linked to the source {source}; a sweep needs two linked devices");
        var pair = testbed with { Devices = [testbed.Device(source), other], Links = [testbed.Link(source, other.Name)!] };
        var emulation = TestbedEmulation.Plan(pair, host, model.Name);
        CoordinatorHost? coordinator = null;
        await using var backend = await TestbedBackends.StartAsync(pair, pair.Name + ".yaml", emulation, forceInProcess, log ?? (_ => { }), ct);
        try
        {
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

            var dilation = emulation.Dilation;
            coordinator = await CoordinatorHost.StartAsync(model.Served, backend.Agents, new FixedCutsPlanSource([]),
                backend.ConfigureCoordinator(new CoordinatorOptions { SourceDevice = source, ConfigureLogging = l => l.ClearProviders() }), plans[0].Plan with { Version = 1 }, ct);
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
                    sequential.Add(dilation.ReportMs(Stopwatch.GetElapsedTime(started).TotalMilliseconds));
                }
                // Pipelined: four requests in flight for a fixed window, so stages on different devices overlap.
                var window = Stopwatch.StartNew();
                var completed = 0;
                await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
                {
                    while (window.Elapsed < dilation.Stretch(TimeSpan.FromSeconds(1.5)))
                    {
                        await coordinator.InferAsync(model.Inputs, ct);
                        Interlocked.Increment(ref completed);
                    }
                }));
                points.Add(new SweepPoint(label, LatencySummary.Of(sequential).P50Ms, completed / dilation.Report(window.Elapsed).TotalSeconds));
            }
            return new SweepReport(
                $"Where to split {model.Name} between {source} and {other.Name}",
                model.Name,
                testbed.Name,
                Emulated: true,
                $"{Environment.ProcessorCount} cores shared with other jobs; {backend.Label}",
                points,
                $"Each cut is measured for real on emulated devices in the testbed's nominal conditions: sequential latency is the median of 6 requests one at a time, " +
                $"pipelined throughput the requests completed with 4 in flight over 1.5 s. {Verifier.SpreadCuts(model.Onnx, MaxCuts).Count} cuts spread over the model's {model.Onnx.Cuts.Count}, plus the whole model on each device.");
        }
        finally
        {
            if (coordinator is not null) await coordinator.DisposeAsync();
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
        var host = HostCalibration.LoadOrMeasure(cancel: ct);
        for (var i = 0; i < names.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            progress?.Report(new LiveFrame(names[i], Strategy.Single, 0, 1, i, names.Count, [], [], 0, double.NaN, 0, 0, 0, "timing"));
            var model = PreparedModel.Prepare(names[i], seed);
            var hostMs = model.Profile.ReferenceNodeMs.Sum();
            // The devices' speed for this model (its published latency where the unit lists it), not dilated: a table, not a run.
            var emulation = TestbedEmulation.Plan(testbed, host, model.Name, dilation: TimeDilation.None);
            var latencies = emulation.Devices.Select(d => new DeviceLatency($"{d.Name} ({d.Profile} {d.Unit.Name})", hostMs / d.Speed.HostCores)).ToList();
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
            "Latency is the whole model measured on this host with ONNX Runtime (1 thread) over each device's unit speed (its published latencies against this host's), so it is emulated; " +
            "peak memory is estimated as the weights plus twice the largest tensor crossing a cut, not metered.");
    }
}
