using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Planning;

// Planner decision times on synthetic chains shaped like real CNNs (costs per node, bytes per cut).
// Usage: dotnet run -c Release --project bench/EdgeSplit.Bench.Planning [-- [--repeats N] [--model mobilenetv2.onnx]]
// With --model, the real model is profiled on this host (ORT) and planned over the same 5 devices too.
string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
var repeats = Arg("--repeats") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : 200;
var modelPath = Arg("--model");

Console.WriteLine($"EdgeSplit planning benchmark: median of {repeats} runs after warm-up, wall clock per Plan() call (compile + solve);");
Console.WriteLine("cpu ms/call = process CPU time over all runs / runs (less disturbed by other jobs waiting for the CPU than wall clock).");
Console.WriteLine($"Machine: {Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; shared with other jobs, so figures are noisy upper bounds.");
Console.WriteLine();
Console.WriteLine($"{"case",-50} {"planner",-8} {"objective",-10} {"median ms",10} {"p90 ms",9} {"min ms",9} {"cpu ms/call",11} {"alloc KB",9}  stages");

var cases = new List<(string Name, PlanningState State, double TargetMs)>
{
    ("MobileNetV2-like, 150 cuts, 5 devices", Synthetic.State(151, 5, 300e6, 602_112, 4_000, seed: 1), 1),
    ("300 cuts, 8 devices", Synthetic.State(301, 8, 4e9, 602_112, 4_000, seed: 2), 10),
    ("300 cuts, 8 devices, memory for 40 % each", Synthetic.TightMemory(Synthetic.State(301, 8, 4e9, 602_112, 4_000, seed: 2), 0.4), 10),
};
if (modelPath is not null)
{
    var model = EdgeSplit.Graph.OnnxModel.Load(modelPath);
    var profile = ModelProfiling.Measure(model).Profile;
    var synthetic = Synthetic.State(model.Nodes.Count, 5, 300e6, 602_112, 4_000, seed: 1);
    cases.Insert(1, ($"{Path.GetFileName(modelPath)} profiled, {model.Cuts.Count} cuts, 5 devices", synthetic with { Profile = profile }, 1));
}
foreach (var (name, state, target) in cases)
{
    var model = new CostModel();
    foreach (var (planner, objective) in new (IPlanner, Objective)[]
    {
        (new OptimalPlanner(model), Objective.Latency),
        (new OptimalPlanner(model), Objective.Weighted(100)),
        (new OptimalPlanner(model), Objective.Energy),
        (new OptimalPlanner(model), Objective.Throughput),
        (new GreedyPlanner(model), Objective.Latency),
    })
    {
        var plan = planner.Plan(state, objective);
        var iterations = objective.Kind == ObjectiveKind.Throughput ? Math.Max(5, repeats / 10) : repeats;
        for (var i = 0; i < Math.Min(20, iterations); i++) planner.Plan(state, objective);
        var samples = new double[iterations];
        var cpuBefore = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            planner.Plan(state, objective);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        var cpuMsPerCall = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / iterations;
        Array.Sort(samples);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        planner.Plan(state, objective);
        var allocatedKb = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / 1024.0;
        var median = samples[samples.Length / 2];
        var verdict = planner.Name == "optimal" && objective.Kind == ObjectiveKind.Latency
            ? $"  (target < {target} ms: wall median {(median < target ? "met" : "missed")}, cpu {(cpuMsPerCall < target ? "met" : "missed")})"
            : "";
        Console.WriteLine($"{name,-50} {planner.Name,-8} {objective.Kind,-10} {median,10:F3} {samples[(int)(samples.Length * 0.9)],9:F3} {samples[0],9:F3} {cpuMsPerCall,11:F3} {allocatedKb,9:F0}  {plan.Stages.Count}{verdict}");
    }
}

/// <summary>Synthetic models and testbeds with realistic proportions.</summary>
internal static class Synthetic
{
    /// <summary>Every device can hold only <paramref name="share"/> of the model, so the DP's memory windows bind.</summary>
    public static PlanningState TightMemory(PlanningState state, double share)
    {
        var total = state.Profile.NodeMemoryBytes.Sum();
        return state with { Devices = [.. state.Devices.Select(d => d with { MemoryBudgetBytes = (long)(total * share) })] };
    }

    /// <summary>
    /// A chain of <paramref name="nodes"/> with <paramref name="flops"/> in total, activations that
    /// start above the input size and shrink with depth (the CNN pattern) with spikes inside
    /// blocks, weights that grow with depth, and <paramref name="devices"/> heterogeneous devices.
    /// </summary>
    public static PlanningState State(int nodes, int devices, double flops, long inputBytes, long outputBytes, int seed)
    {
        var random = new Random(seed);
        var ms = new double[nodes];
        var memory = new long[nodes];
        var cuts = new long[nodes - 1];
        var referenceMsPerFlop = 1.0 / 2e9 * 1000; // reference device: 2 GFLOP/s, about a Pi 4 core
        for (var i = 0; i < nodes; i++)
        {
            var depth = (double)i / nodes;
            var heavy = i % 3 == 0; // conv every third node, cheap element-wise ops between
            ms[i] = flops / nodes * (heavy ? 2.5 : 0.25) * (0.5 + random.NextDouble()) * referenceMsPerFlop;
            var activation = (long)(inputBytes * 2.7 * Math.Pow(0.02, depth) * (i % 7 == 3 ? 6 : 1));
            memory[i] = (heavy ? (long)(14_000_000.0 * 3 * depth * depth / nodes) : 0) + activation;
            if (i < nodes - 1) cuts[i] = Math.Max(outputBytes, activation);
        }
        string[] kinds = ["pi", "jetson", "laptop", "phone", "nuc", "pi", "jetson", "tablet"];
        double[] speeds = [1, 2.5, 6, 1.8, 4, 1, 2.5, 1.5];
        var specs = Enumerable.Range(0, devices).Select(d => new DeviceSpec(
            $"{kinds[d]}{d}",
            speeds[d] * (0.8 + (0.4 * random.NextDouble())),
            0.3 + (0.7 * random.NextDouble()),
            d % 3 == 0 ? 512L << 20 : 2L << 30,
            new DevicePowerModel(2 + (3 * random.NextDouble()), 6 + (30 * random.NextDouble()), 2e-8, 1.5e-8))).ToList();
        var links = new List<LinkSpec>();
        foreach (var a in specs)
        {
            foreach (var b in specs)
            {
                if (a != b) links.Add(new LinkSpec(a.Name, b.Name, 1e6 + (random.NextDouble() * 60e6), 1 + (random.NextDouble() * 10)));
            }
        }
        return new PlanningState(specs, links, new SegmentProfile(ms, memory, cuts, inputBytes, outputBytes), specs[0].Name);
    }
}
