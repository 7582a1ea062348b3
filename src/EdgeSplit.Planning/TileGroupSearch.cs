using EdgeSplit.Graph.Tiling;

namespace EdgeSplit.Planning;

/// <summary>
/// The optimal planner's search over tile groups at the start of the model: for every tileable
/// cut, every set of 2..<see cref="MaxTileDevices"/> devices, every candidate grid over them
/// (<see cref="TileCandidates"/>) and every gatherer, the tile group's price plus the exact
/// optimum of the layer-wise stages after it (the same dynamic programme, entered at the
/// gatherer). Additive objectives add the two; throughput takes the larger bottleneck.
/// </summary>
internal static class TileGroupSearch
{
    /// <summary>Tile groups span at most this many devices (the subsets grow as 2^devices).</summary>
    public const int MaxTileDevices = 6;

    /// <summary>The best tiled plan if it beats <paramref name="layerWiseValue"/>, else null.</summary>
    public static Plan? Best(CostModel model, PlanningState state, Objective objective, double layerWiseValue)
    {
        var tables = model.Compile(state);
        var devices = tables.DeviceCount;
        if (devices < 2) return null;
        var pricing = new TilePricing(model, state, tables);
        var best = layerWiseValue;
        Plan? bestPlan = null;
        foreach (var cut in pricing.Geometry.TileableCuts.Where(c => c < tables.NodeCount - 1))
        {
            var after = new OptimalPlanner.Solution?[devices];
            var solved = new bool[devices];
            for (var mask = 3; mask < 1 << devices; mask++)
            {
                var count = System.Numerics.BitOperations.PopCount((uint)mask);
                if (count < 2 || count > MaxTileDevices) continue;
                int[] members = [.. Enumerable.Range(0, devices).Where(d => (mask & (1 << d)) != 0)];
                foreach (var (grid, tileDevices) in TileCandidates.For(members, [.. members.Select(d => tables.ComputeMs(d, 0, cut))]))
                {
                    for (var g = 0; g < devices; g++)
                    {
                        var price = pricing.Price(cut, grid, tileDevices, g, null);
                        var value = price.Value(objective);
                        if (!price.Feasible || value >= best) continue;
                        if (!solved[g])
                        {
                            after[g] = OptimalPlanner.Solve(model.Compile(state.Suffix(cut + 1, tables.Names[g])), objective);
                            solved[g] = true;
                        }
                        if (after[g] is not { } rest) continue;
                        var total = objective.Kind == ObjectiveKind.Throughput ? Math.Max(value, rest.Value) : value + rest.Value;
                        if (total < best)
                        {
                            best = total;
                            bestPlan = new Plan(0, [
                                new Stage(tables.Names[g], 0, cut, new TileGroup(grid, [.. tileDevices.Select(d => tables.Names[d])])),
                                .. rest.Stages.Select(s => new Stage(tables.Names[s.Device], s.First + cut + 1, s.Last + cut + 1)),
                            ]);
                        }
                    }
                }
            }
        }
        return bestPlan;
    }
}

/// <summary>
/// The grids the planner tries over a set of devices: strips of rows and strips of columns sized
/// in proportion to each device's speed on the prefix (CoEdge), and even r x c grids (r, c >= 2)
/// when the device count allows. Tiles go to devices in their order in the state.
/// </summary>
public static class TileCandidates
{
    /// <param name="devices">Device numbers, ascending.</param>
    /// <param name="prefixMs">Each device's time for the whole prefix.</param>
    public static IEnumerable<(TileGrid Grid, int[] Devices)> For(IReadOnlyList<int> devices, IReadOnlyList<double> prefixMs)
    {
        var m = devices.Count;
        int[] order = [.. devices];
        var weights = SpeedWeights(prefixMs);
        yield return (TileGrid.Weighted(weights, [1]), order);
        yield return (TileGrid.Weighted([1], weights), order);
        for (var rows = 2; rows * 2 <= m; rows++)
        {
            if (m % rows == 0)
            {
                yield return (TileGrid.Even(rows, m / rows), order);
            }
        }
    }

    /// <summary>Integer weights proportional to 1 / time (thousandths of the fastest), reduced by their common divisor.</summary>
    private static long[] SpeedWeights(IReadOnlyList<double> prefixMs)
    {
        if (prefixMs.Any(ms => !(ms > 0) || double.IsInfinity(ms)))
        {
            return [.. prefixMs.Select(_ => 1L)];
        }
        var fastest = prefixMs.Min();
        long[] weights = [.. prefixMs.Select(ms => Math.Max(1L, (long)Math.Round(1000 * fastest / ms)))];
        var divisor = weights.Aggregate(Gcd);
        return [.. weights.Select(w => w / divisor)];
    }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);
}
