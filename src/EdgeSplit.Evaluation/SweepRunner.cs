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

    public static SweepReport Run(string modelName, TestbedSpec testbed, int seed, IProgress<LiveFrame>? progress, CancellationToken ct, bool forceInProcess = false,
        IReadOnlyList<string>? runtimes = null, Action<string>? log = null) =>
        RunAsync(modelName, testbed, seed, progress, ct, forceInProcess, log, runtimes).GetAwaiter().GetResult();

    /// <summary>Runs the sweep; <paramref name="runtimes"/> says which runtimes (<see cref="SweepRuntimes"/>), EdgeSplit alone by default.</summary>
    public static async Task<SweepReport> RunAsync(string modelName, TestbedSpec testbed, int seed, IProgress<LiveFrame>? progress, CancellationToken ct, bool forceInProcess = false, Action<string>? log = null,
        IReadOnlyList<string>? runtimes = null)
    {
        runtimes ??= [SweepRuntimes.EdgeSplit];
        var model = PreparedModel.Prepare(modelName, seed);
        var source = testbed.Source;
        var host = HostCalibration.LoadOrMeasure(log, ct);
        var other = testbed.Devices.Where(d => d.Name != source && testbed.Link(source, d.Name) is not null)
            .OrderByDescending(d => testbed.Link(source, d.Name)!.BandwidthMbps).ThenByDescending(d => UnitSpeed.Of(d.Unit, host, model.Name).HostCores).FirstOrDefault()
            ?? throw new Graph.BadInputException($"testbed {testbed.Name} has no device linked to the source {source}; a sweep needs two linked devices");
        var pair = testbed with { Devices = [testbed.Device(source), other], Links = [testbed.Link(source, other.Name)!] };
        var emulation = TestbedEmulation.Plan(pair, host, model.Name);
        await using var backend = await TestbedBackends.StartAsync(pair, pair.Name + ".yaml", emulation, forceInProcess, log ?? (_ => { }), ct);
        var points = new List<SweepPoint>();
        var notes = new List<string>();
        if (runtimes.Contains(SweepRuntimes.EdgeSplit))
        {
            points.AddRange(await SweepEdgeSplitAsync(model, backend, source, other.Name, progress, ct));
            notes.Add((runtimes.Count > 1 ? "edgesplit: " : "") +
                $"Each cut is measured for real on emulated devices in the testbed's nominal conditions: sequential latency is the median of 6 requests one at a time, " +
                $"pipelined throughput the requests completed with 4 in flight over 1.5 s. {Verifier.SpreadCuts(model.Onnx, MaxCuts).Count} cuts spread over the model's {model.Onnx.Cuts.Count}, plus the whole model on each device.");
        }
        if (runtimes.Contains(SweepRuntimes.PyTorchRpc))
        {
            // After EdgeSplit's coordinator is gone: its agents stay up, idle, beside the PyTorch workers.
            var (torchPoints, torchNotes) = await PyTorch.PyTorchSweep.RunAsync(modelName, model, backend, source, other.Name, progress, log ?? (_ => { }), ct);
            points.AddRange(torchPoints);
            notes.AddRange(torchNotes);
        }
        if (points.Count == 0)
        {
            throw new PyTorch.PyTorchUnavailableException(string.Join(" ", notes));
        }
        return new SweepReport(
            $"Where to split {model.Name} between {source} and {other.Name}" + (runtimes.Count > 1 ? $": {string.Join(" and ", runtimes)}" : ""),
            model.Name,
            testbed.Name,
            Emulated: true,
            $"{Environment.ProcessorCount} cores shared with other jobs; {backend.Label}",
            points,
            string.Join("\n\n", notes));
    }

    /// <summary>EdgeSplit's points: the whole model on each device and cuts spread over the model, each sequential and pipelined.</summary>
    private static async Task<List<SweepPoint>> SweepEdgeSplitAsync(PreparedModel model, ITestbedBackend backend, string source, string otherName, IProgress<LiveFrame>? progress, CancellationToken ct)
    {
        var dilation = backend.Emulation.Dilation;
        var points = new List<SweepPoint>();
        CoordinatorHost? coordinator = null;
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
                plans.Add(($"cut {cutIndex} ({model.Onnx.Cuts[cutIndex].NodeName})", new Plan(1, [new Stage(source, 0, after), new Stage(otherName, after + 1, n - 1)])));
            }
            plans.Add(($"all on {otherName}", new Plan(1, [new Stage(otherName, 0, n - 1)])));

            coordinator = await CoordinatorHost.StartAsync(model.Served, backend.Agents, new FixedCutsPlanSource([]),
                backend.ConfigureCoordinator(new CoordinatorOptions { SourceDevice = source, ConfigureLogging = l => l.ClearProviders() }), plans[0].Plan with { Version = 1 }, ct);
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
            return points;
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
