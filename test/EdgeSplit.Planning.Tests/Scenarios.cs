using CsCheck;

namespace EdgeSplit.Planning.Tests;

/// <summary>States the tests plan on: hand-built edge testbeds and random small instances.</summary>
internal static class Scenarios
{
    public static readonly DevicePowerModel PiPower = new(2.7, 6.4, 2e-8, 1.5e-8);
    public static readonly DevicePowerModel JetsonPower = new(1.5, 10, 1.5e-8, 1e-8);
    public static readonly DevicePowerModel LaptopPower = new(8, 45, 1e-8, 1e-8);

    /// <summary>A CNN-like chain: early layers have large activations, late layers large weights.</summary>
    public static SegmentProfile Chain(int nodes, double totalReferenceMs = 200, long inputBytes = 602_112, long outputBytes = 4_000, double shrinkPerNode = 0.92)
    {
        var ms = new double[nodes];
        var memory = new long[nodes];
        var cuts = new long[nodes - 1];
        for (var i = 0; i < nodes; i++)
        {
            var x = (i + 0.5) / nodes;
            ms[i] = totalReferenceMs / nodes * (0.5 + x);
            memory[i] = (long)(200_000 + (4_000_000 * x * x));
            if (i < nodes - 1) cuts[i] = (long)(inputBytes * 4 * Math.Pow(shrinkPerNode, i) * (i % 3 == 1 ? 2 : 1)) + 4_000;
        }
        return new SegmentProfile(ms, memory, cuts, inputBytes, outputBytes);
    }

    /// <summary>A Pi (source), a Jetson and a laptop on a 100 Mbit/s LAN.</summary>
    public static PlanningState EdgeTrio(int nodes = 30, double shrinkPerNode = 0.92) => new(
        [
            new DeviceSpec("pi", 1, 1, 1L << 31, PiPower),
            new DeviceSpec("jetson", 2.5, 1, 1L << 31, JetsonPower),
            new DeviceSpec("laptop", 6, 1, 1L << 33, LaptopPower),
        ],
        PlanningState.FullMesh(["pi", "jetson", "laptop"], 12_500_000, 2),
        Chain(nodes, shrinkPerNode: shrinkPerNode),
        "pi");

    /// <summary>Random instances small enough for brute force: 1..6 nodes, 1..4 devices, some links missing.</summary>
    public static readonly Gen<PlanningState> SmallState =
        from nodes in Gen.Int[1, 6]
        from devices in Gen.Int[1, 4]
        from nodeMs in Gen.Double[0, 20].Array[nodes]
        from memory in Gen.Long[0, 100].Array[nodes]
        from cuts in Gen.Long[0, 20_000].Array[nodes - 1]
        from io in Gen.Long[0, 20_000].Array[2]
        from speed in Gen.Double[0.2, 5].Array[devices]
        from cpu in Gen.Double[0.05, 1].Array[devices]
        from budget in Gen.Long[30, 500].Array[devices]
        from watts in Gen.Double[0, 30].Array[devices * 2]
        from joulesPerByte in Gen.Double[0, 1e-5].Array[devices * 2]
        from bandwidth in Gen.Double[1_000, 1_000_000].Array[devices * devices]
        from rtt in Gen.Double[0, 10].Array[devices * devices]
        from linkMissing in Gen.Int[0, 9].Array[devices * devices]
        from source in Gen.Int[0, devices - 1]
        select Build(nodes, devices, nodeMs, memory, cuts, io, speed, cpu, budget, watts, joulesPerByte, bandwidth, rtt, linkMissing, source);

    private static PlanningState Build(int nodes, int devices, double[] nodeMs, long[] memory, long[] cuts, long[] io, double[] speed,
        double[] cpu, long[] budget, double[] watts, double[] joulesPerByte, double[] bandwidth, double[] rtt, int[] linkMissing, int source)
    {
        var names = Enumerable.Range(0, devices).Select(d => $"d{d}").ToArray();
        var deviceSpecs = names.Select((name, d) => new DeviceSpec(name, speed[d], cpu[d], budget[d],
            new DevicePowerModel(Math.Min(watts[2 * d], watts[(2 * d) + 1]), Math.Max(watts[2 * d], watts[(2 * d) + 1]), joulesPerByte[2 * d], joulesPerByte[(2 * d) + 1]))).ToList();
        var links = new List<LinkSpec>();
        for (var a = 0; a < devices; a++)
        {
            for (var b = 0; b < devices; b++)
            {
                // One link in ten is missing, so infeasible hops are exercised too.
                if (a != b && linkMissing[(a * devices) + b] != 0) links.Add(new LinkSpec(names[a], names[b], bandwidth[(a * devices) + b], rtt[(a * devices) + b]));
            }
        }
        return new PlanningState(deviceSpecs, links, new SegmentProfile(nodeMs, memory, cuts, io[0], io[1]), names[source]);
    }

    public static readonly Gen<Objective> AnyObjective = Gen.OneOf(
        Gen.Const(Objective.Latency),
        Gen.Const(Objective.Energy),
        Gen.Const(Objective.Throughput),
        Gen.Double[0, 1000].Select(Objective.Weighted));

    /// <summary>Equal up to the throughput objective's bisection (the additive objectives are exact up to rounding).</summary>
    public static bool Close(double a, double b) => Math.Abs(a - b) <= (2 * OptimalPlanner.ThroughputTolerance * Math.Max(Math.Abs(a), Math.Abs(b))) + 1e-9;

    /// <summary>
    /// True when the optimal planner's plan is as good as the best of <paramref name="everyPlan"/>
    /// by the cost model, or when neither finds a feasible plan; <paramref name="plan"/> is the planner's.
    /// </summary>
    public static bool OptimalMatchesBruteForce(CostModel model, PlanningState state, Objective objective, IEnumerable<Plan> everyPlan, out Plan? plan)
    {
        var brute = everyPlan.Select(p => model.Estimate(state, p)).Where(e => e.Feasible).Select(e => e.Value(objective)).DefaultIfEmpty(double.PositiveInfinity).Min();
        try
        {
            plan = new OptimalPlanner(model).Plan(state, objective);
        }
        catch (NoFeasiblePlanException)
        {
            plan = null;
            return double.IsPositiveInfinity(brute);
        }
        var estimate = model.Estimate(state, plan);
        return estimate.Feasible && Close(estimate.Value(objective), brute);
    }

    /// <summary>Every plan: every set of cuts, every ordered choice of distinct devices.</summary>
    public static IEnumerable<Plan> AllPlans(PlanningState state)
    {
        var n = state.Profile.NodeCount;
        var names = state.Devices.Select(d => d.Name).ToArray();
        for (var cutMask = 0; cutMask < 1 << (n - 1); cutMask++)
        {
            var cuts = Enumerable.Range(0, n - 1).Where(i => (cutMask & (1 << i)) != 0).ToList();
            foreach (var sequence in Sequences(names, cuts.Count + 1, []))
            {
                yield return Plan.FromCuts(0, n, cuts, sequence);
            }
        }
    }

    private static IEnumerable<List<string>> Sequences(string[] names, int length, List<string> prefix)
    {
        if (prefix.Count == length)
        {
            yield return [.. prefix];
            yield break;
        }
        foreach (var name in names.Where(n => !prefix.Contains(n)))
        {
            prefix.Add(name);
            foreach (var s in Sequences(names, length, prefix)) yield return s;
            prefix.RemoveAt(prefix.Count - 1);
        }
    }
}
