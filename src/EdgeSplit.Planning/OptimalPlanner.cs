using System.Buffers;

namespace EdgeSplit.Planning;

/// <summary>
/// Exact planner: dynamic programming over (node, device, set of devices used) for chains across
/// any subset and order of devices, each device at most once, honouring memory budgets.
/// Additive objectives (latency, energy, weighted) are solved in one pass of
/// O(nodes x devices^2 x 2^devices) with a sliding-window minimum over each stage's start (valid
/// starts form a window because memory and time prefix sums only grow). Throughput (minimise the
/// slowest stage) bisects a cap on every stage and hop with the same pass, to within
/// <see cref="ThroughputTolerance"/>, then takes the lowest-latency plan at the best cap.
/// </summary>
public sealed class OptimalPlanner(CostModel costModel) : IPlanner
{
    /// <summary>Beyond this the 2^devices state space stops being a sub-10 ms affair.</summary>
    public const int MaxDevices = 12;

    public string Name => "optimal";

    public CostModel CostModel { get; } = costModel;

    public Plan Plan(PlanningState state, Objective objective)
    {
        var tables = CostModel.Compile(state);
        // With a tiling profile, tile groups at the start are other ways into the chain.
        var tiles = state.Profile.Tiling is null ? null : new TileGroupEntries(CostModel, state, tables);
        var solution = Solve(tables, objective, tiles) ?? throw new NoFeasiblePlanException(
            $"no placement of {tables.NodeCount} nodes on {tables.DeviceCount} devices fits the memory budgets and links; add memory or devices");
        return solution.Entry >= 0 ? tiles!.ToPlan(solution) : tables.ToPlan(solution.Stages);
    }

    /// <summary>A DP result; <c>Entry</c> is the way in (<see cref="IChainEntries"/>) its first stage starts from, -1 for the source's input.</summary>
    internal sealed record Solution(double Value, IReadOnlyList<(int Device, int First, int Last)> Stages, int Entry = -1);

    internal static Solution? Solve(CostTables t, Objective objective, IChainEntries? entries = null)
    {
        if (t.DeviceCount > MaxDevices) throw new EdgeSplit.Graph.BadInputException($"optimal plans at most {MaxDevices} devices, got {t.DeviceCount}; use greedy");
        // At a camera's frame rate only plans whose every stage and hop keep up count; if none does, the one that answers most frames.
        var cap = objective.FrameIntervalMs ?? double.PositiveInfinity;
        switch (objective.Kind)
        {
            case ObjectiveKind.Latency: return Solve(t, 1, 0, cap, entries) ?? Solve(t, Objective.Throughput, entries);
            case ObjectiveKind.Energy: return Solve(t, 0, 1, cap, entries) ?? Solve(t, Objective.Throughput, entries);
            case ObjectiveKind.Weighted: return Solve(t, 1, objective.EnergyWeightMsPerJoule, cap, entries) ?? Solve(t, Objective.Throughput, entries);
            case ObjectiveKind.Throughput:
                var best = Solve(t, 1, 0, double.PositiveInfinity, entries);
                if (best is null) return null;
                // Tiles split a node over devices, so the per-node bound does not hold with entries.
                double lo = entries is null ? LowerBound(t) : 0, hi = Bottleneck(t, best, entries);
                // Each feasible probe drops hi to a real plan's bottleneck; stop within ThroughputTolerance.
                for (var i = 0; i < 100 && hi - lo > (ThroughputTolerance * hi) + 1e-12; i++)
                {
                    var mid = (lo + hi) / 2;
                    var probe = Solve(t, 1, 0, mid, entries);
                    if (probe is null)
                    {
                        lo = mid;
                    }
                    else
                    {
                        hi = Bottleneck(t, probe, entries);
                    }
                }
                var final = Solve(t, 1, 0, hi, entries)!;
                return final with { Value = Bottleneck(t, final, entries) };
            default:
                throw new ArgumentOutOfRangeException(nameof(objective));
        }
    }

    /// <summary>Relative precision of the throughput objective's bisection (the bottleneck found is within this of the best).</summary>
    public const double ThroughputTolerance = 1e-4;

    /// <summary>No plan's bottleneck is below the slowest node on its fastest device (minus a hair, so bisection starts strictly below).</summary>
    private static double LowerBound(CostTables t)
    {
        double bound = 0;
        for (var i = 0; i < t.NodeCount; i++)
        {
            var fastest = double.PositiveInfinity;
            for (var d = 0; d < t.DeviceCount; d++) fastest = Math.Min(fastest, t.ComputeMs(d, i, i));
            bound = Math.Max(bound, fastest);
        }
        return bound * (1 - 1e-9);
    }

    /// <summary>The slowest stage or hop of a solution, with the same arithmetic as the DP's cap test.</summary>
    internal static double Bottleneck(CostTables t, IReadOnlyList<(int Device, int First, int Last)> stages) => Bottleneck(t, new Solution(0, stages), null);

    private static double Bottleneck(CostTables t, Solution solution, IChainEntries? entries)
    {
        var stages = solution.Stages;
        var worst = solution.Entry >= 0 ? entries!.Bottleneck(solution.Entry) : t.TransferMs(t.Source, stages[0].Device, t.InputBytes);
        for (var k = 0; k < stages.Count; k++)
        {
            worst = Math.Max(worst, t.ComputeMs(stages[k].Device, stages[k].First, stages[k].Last));
            var next = k + 1 < stages.Count ? stages[k + 1].Device : t.Source;
            var bytes = k + 1 < stages.Count ? t.CutBytes[stages[k].Last] : t.OutputBytes;
            worst = Math.Max(worst, t.TransferMs(stages[k].Device, next, bytes));
        }
        return worst;
    }

    /// <summary>
    /// Minimises sum(wLatency x ms + wEnergy x J) with every stage and hop at most
    /// <paramref name="capMs"/>; null when nothing is feasible.
    /// </summary>
    internal static Solution? Solve(CostTables t, double wLatency, double wEnergy, double capMs, IChainEntries? entries = null)
    {
        int devices = t.DeviceCount, nodes = t.NodeCount, masks = 1 << devices, states = masks * devices;
        var weight = new double[devices];
        // A device whose budget holds the whole model and no cap: the window never shrinks, so a running minimum will do.
        var unbounded = new bool[devices];
        for (var d = 0; d < devices; d++)
        {
            weight[d] = wLatency + (wEnergy * t.ActiveJoulesPerMs[d]);
            unbounded[d] = double.IsPositiveInfinity(capMs) && t.MemoryPrefix[nodes] <= t.MemoryBudget[d];
        }

        var startCur = new double[states];
        var startNext = new double[states];
        var runningMin = new double[states];
        var runningArg = new int[states];
        var head = new int[states];
        var tail = new int[states];
        var hop = new double[devices * devices];
        var anyBounded = unbounded.Contains(false);
        var ways = entries?.Costs(wLatency, wEnergy, capMs);
        // Start and value side by side: the front and back of a short queue then share a cache line.
        var queue = anyBounded ? ArrayPool<QueueEntry>.Shared.Rent(states * nodes) : [];
        var bestStart = ArrayPool<int>.Shared.Rent(states * nodes);
        var parent = ArrayPool<sbyte>.Shared.Rent(states * nodes);
        try
        {
            Array.Fill(startCur, double.PositiveInfinity);
            Array.Fill(runningMin, double.PositiveInfinity);
            for (var d = 0; d < devices; d++)
            {
                var up = t.TransferMs(t.Source, d, t.InputBytes);
                if (!(double.IsFinite(up) && up <= capMs)) continue;
                var st = ((1 << d) * devices) + d;
                startCur[st] = (wLatency * up) + (wEnergy * t.TransferJoules(t.Source, d, t.InputBytes));
                parent[st] = -1;
            }

            var best = double.PositiveInfinity;
            var bestState = -1;
            var all = masks - 1;
            for (var b = 0; b < nodes; b++)
            {
                var last = b == nodes - 1;
                for (var d = 0; b > 0 && ways is not null && d < devices; d++)
                {
                    // Entering node b on device d from outside the chain (e.g. a tile group's gather) starts a first stage there.
                    var st = ((1 << d) * devices) + d;
                    if (ways.Cost[(b * devices) + d] < startCur[st])
                    {
                        startCur[st] = ways.Cost[(b * devices) + d];
                        parent[(b * states) + st] = -2;
                    }
                }
                // The cost of every hop after node b, computed once per node rather than per state.
                for (var d = 0; d < devices; d++)
                {
                    for (var next = 0; next < devices; next++)
                    {
                        var to = last ? t.Source : next;
                        var bytes = last ? t.OutputBytes : t.CutBytes[b];
                        var ms = t.TransferMs(d, to, bytes);
                        hop[(d * devices) + next] = double.IsFinite(ms) && ms <= capMs
                            ? (wLatency * ms) + (wEnergy * t.TransferJoules(d, to, bytes))
                            : double.PositiveInfinity;
                    }
                }
                Array.Fill(startNext, double.PositiveInfinity);
                var memoryEnd = t.MemoryPrefix[b + 1];
                var row = b * states;
                var nextRow = (b + 1) * states;
                for (var mask = 1; mask < masks; mask++)
                {
                    for (var bits = mask; bits != 0; bits &= bits - 1)
                    {
                        var d = System.Numerics.BitOperations.TrailingZeroCount(bits);
                        var st = (mask * devices) + d;
                        var prefix = t.ComputePrefixMs[d];
                        var entering = startCur[st];
                        double stageEnd;
                        if (unbounded[d])
                        {
                            if (entering < double.PositiveInfinity)
                            {
                                var value = entering - (weight[d] * prefix[b]);
                                if (value < runningMin[st])
                                {
                                    runningMin[st] = value;
                                    runningArg[st] = b;
                                }
                            }
                            if (runningMin[st] == double.PositiveInfinity) continue;
                            stageEnd = runningMin[st] + (weight[d] * prefix[b + 1]);
                            bestStart[row + st] = runningArg[st];
                        }
                        else
                        {
                            var q = st * nodes;
                            var h = head[st];
                            var tl = tail[st];
                            if (entering < double.PositiveInfinity)
                            {
                                // Monotone queue: a later start with a lower value makes earlier ones useless.
                                var value = entering - (weight[d] * prefix[b]);
                                while (tl > h && queue[q + tl - 1].Value >= value) tl--;
                                queue[q + tl] = new QueueEntry(value, b);
                                tl++;
                            }
                            var budget = t.MemoryBudget[d];
                            while (h < tl)
                            {
                                var a = queue[q + h].Start;
                                if (memoryEnd - t.MemoryPrefix[a] > budget || prefix[b + 1] - prefix[a] > capMs) h++;
                                else break;
                            }
                            head[st] = h;
                            tail[st] = tl;
                            if (h == tl) continue;
                            stageEnd = queue[q + h].Value + (weight[d] * prefix[b + 1]);
                            bestStart[row + st] = queue[q + h].Start;
                        }

                        if (last)
                        {
                            var total = stageEnd + hop[d * devices];
                            if (total < best)
                            {
                                best = total;
                                bestState = st;
                            }
                            continue;
                        }
                        for (var free = all & ~mask; free != 0; free &= free - 1)
                        {
                            var next = System.Numerics.BitOperations.TrailingZeroCount(free);
                            var value = stageEnd + hop[(d * devices) + next];
                            var st2 = ((mask | (1 << next)) * devices) + next;
                            if (value < startNext[st2])
                            {
                                startNext[st2] = value;
                                parent[nextRow + st2] = (sbyte)d;
                            }
                        }
                    }
                }
                (startCur, startNext) = (startNext, startCur);
            }
            if (bestState < 0) return null;

            var stages = new List<(int, int, int)>();
            var state = bestState;
            var end = nodes - 1;
            var entry = -1;
            while (true)
            {
                var device = state % devices;
                var mask = state / devices;
                var first = bestStart[(end * states) + state];
                stages.Add((device, first, end));
                int previous = parent[(first * states) + state];
                if (previous == -2) entry = ways!.Choice[(first * devices) + device];
                if (previous < 0) break;
                state = ((mask & ~(1 << device)) * devices) + previous;
                end = first - 1;
            }
            stages.Reverse();
            return new Solution(best, stages, entry);
        }
        finally
        {
            if (anyBounded)
            {
                ArrayPool<QueueEntry>.Shared.Return(queue);
            }
            ArrayPool<int>.Shared.Return(bestStart);
            ArrayPool<sbyte>.Shared.Return(parent);
        }
    }

    private readonly record struct QueueEntry(double Value, int Start);
}

/// <summary>
/// Ways into the chain other than the source's input, for the DP: a first stage may start at node
/// b >= 1 on device d at a price, e.g. after a tile group over nodes 0..b-1 (<see cref="TileGroupEntries"/>).
/// </summary>
internal interface IChainEntries
{
    /// <summary>The cheapest way in per [node * devices + device], as wLatency x ms + wEnergy x J, every part within the cap.</summary>
    EntryCosts Costs(double wLatency, double wEnergy, double capMs);

    /// <summary>The slowest part (compute or transfer) of the way in numbered <paramref name="choice"/>.</summary>
    double Bottleneck(int choice);
}

/// <summary>Per [node * devices + device]: the cost of the cheapest way in (infinite for none) and its number.</summary>
internal sealed record EntryCosts(double[] Cost, int[] Choice);
