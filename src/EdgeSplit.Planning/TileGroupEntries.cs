using EdgeSplit.Graph.Tiling;

namespace EdgeSplit.Planning;

/// <summary>
/// Tile groups at the start of the model as ways into the optimal planner's chain: for every
/// tileable cut, every set of 2..<see cref="MaxTileDevices"/> devices, every candidate grid over
/// them (<see cref="TileCandidates"/>) and every gatherer, the group's price; entering node
/// cut + 1 on device d then costs that price plus the hop from the gatherer to d. The DP takes the
/// cheapest entry per node and device, so one pass weighs every tile group against every
/// layer-wise plan, and the layer-wise stages after a group are optimal for it.
/// </summary>
internal sealed class TileGroupEntries : IChainEntries
{
    /// <summary>Tile groups span at most this many devices (the device sets grow as 2^devices).</summary>
    public const int MaxTileDevices = 6;

    private readonly CostTables _t;
    private readonly List<Option> _options = [];

    public TileGroupEntries(CostModel model, PlanningState state, CostTables tables)
    {
        _t = tables;
        var devices = tables.DeviceCount;
        if (devices < 2)
        {
            return;
        }
        var pricing = new TilePricing(model, state, tables);
        int[] gatherers = [.. Enumerable.Range(0, devices)];
        foreach (var cut in pricing.Geometry.TileableCuts.Where(c => c < tables.NodeCount - 1))
        {
            for (var mask = 3; mask < 1 << devices; mask++)
            {
                var count = System.Numerics.BitOperations.PopCount((uint)mask);
                if (count < 2 || count > MaxTileDevices) continue;
                int[] members = [.. Enumerable.Range(0, devices).Where(d => (mask & (1 << d)) != 0)];
                foreach (var (grid, tileDevices) in TileCandidates.For(members, [.. members.Select(d => tables.ComputeMs(d, 0, cut))]))
                {
                    var prices = pricing.PriceEach(cut, grid, tileDevices, gatherers);
                    for (var g = 0; g < devices; g++)
                    {
                        if (prices[g].Feasible) _options.Add(new Option(cut, grid, tileDevices, g, prices[g].LatencyMs, prices[g].EnergyJ, prices[g].BottleneckMs));
                    }
                }
            }
        }
    }

    public EntryCosts Costs(double wLatency, double wEnergy, double capMs)
    {
        var devices = _t.DeviceCount;
        var cost = new double[_t.NodeCount * devices];
        var choice = new int[cost.Length];
        Array.Fill(cost, double.PositiveInfinity);
        Array.Fill(choice, -1);
        for (var i = 0; i < _options.Count; i++)
        {
            var option = _options[i];
            if (option.BottleneckMs > capMs) continue;
            var bytes = _t.CutBytes[option.Cut];
            var tiles = (wLatency * option.LatencyMs) + (wEnergy * option.EnergyJ);
            for (var d = 0; d < devices; d++)
            {
                var hop = _t.TransferMs(option.Gatherer, d, bytes);
                if (!(double.IsFinite(hop) && hop <= capMs)) continue;
                var value = tiles + (wLatency * hop) + (wEnergy * _t.TransferJoules(option.Gatherer, d, bytes));
                var at = ((option.Cut + 1) * devices) + d;
                if (value < cost[at])
                {
                    cost[at] = value;
                    choice[at] = (i * devices) + d;
                }
            }
        }
        return new EntryCosts(cost, choice);
    }

    public double Bottleneck(int choice)
    {
        var option = _options[choice / _t.DeviceCount];
        return Math.Max(option.BottleneckMs, _t.TransferMs(option.Gatherer, choice % _t.DeviceCount, _t.CutBytes[option.Cut]));
    }

    /// <summary>The plan of a solution that entered through a tile group: the group, then the DP's layer-wise stages.</summary>
    public Plan ToPlan(OptimalPlanner.Solution solution)
    {
        var option = _options[solution.Entry / _t.DeviceCount];
        return new Plan(0, [
            new Stage(_t.Names[option.Gatherer], 0, option.Cut, new TileGroup(option.Grid, [.. option.Devices.Select(d => _t.Names[d])])),
            .. solution.Stages.Select(s => new Stage(_t.Names[s.Device], s.First, s.Last)),
        ]);
    }

    private readonly record struct Option(int Cut, TileGrid Grid, int[] Devices, int Gatherer, double LatencyMs, double EnergyJ, double BottleneckMs);
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
