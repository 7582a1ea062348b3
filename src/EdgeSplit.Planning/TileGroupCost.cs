using EdgeSplit.Graph.Tiling;

namespace EdgeSplit.Planning;

/// <summary>What a tile group costs in one state, before the layer-wise stages after it.</summary>
internal readonly record struct TilePrice(double LatencyMs, double EnergyJ, double BottleneckMs, double SlowestTileMs, double GatherMs, long MemoryBytes, string? InfeasibleReason)
{
    public bool Feasible => InfeasibleReason is null;

    public static TilePrice Infeasible(string reason) =>
        new(double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, 0, reason);
}

/// <summary>
/// Prices tile groups: the source sends each tile's slice (halo included) to its device, one
/// after another over its links; each device computes its share of the prefix's FLOPs at its own
/// speed; the tiles' outputs reach the gatherer one after another in the order they are ready;
/// then the gatherer joins them (gathered bytes x the reference ms per byte, scaled by its speed).
/// Latency is that critical path, energy the sum of compute (power above idle) and radio energy,
/// and the pipelined bottleneck the busiest of: the source's sending, a tile's compute, the
/// gatherer's receiving, the gather. Shared by <see cref="CostModel.Estimate"/> and the planner,
/// so both price a tile group alike.
/// </summary>
internal sealed class TilePricing
{
    private readonly CostTables _t;
    private readonly TilingProfile _tiling;
    private readonly double[] _gatherMsPerByte;

    public TilePricing(CostModel model, PlanningState state, CostTables tables)
    {
        _t = tables;
        _tiling = state.Profile.Tiling ?? throw new ArgumentException("the profile has no tiling", nameof(state));
        _gatherMsPerByte = [.. state.Devices.Select(d => _tiling.GatherReferenceMsPerByte * model.DeviceFactor(d.Name) / (d.RelativeSpeed * d.CpuAvailability))];
    }

    public ITileGeometry Geometry => _tiling.Geometry;

    /// <param name="cut">The tiles run nodes 0..cut.</param>
    /// <param name="grid">How the frame is cut.</param>
    /// <param name="devices">Device number of each tile, row-major.</param>
    /// <param name="gatherer">Device number that joins the tiles.</param>
    /// <param name="hops">Receives every transfer, when not null.</param>
    public TilePrice Price(int cut, TileGrid grid, IReadOnlyList<int> devices, int gatherer, List<Hop>? hops) =>
        PriceEach(cut, grid, devices, [gatherer], hops)[0];

    /// <summary>The price with each of <paramref name="gatherers"/>: slicing and tile compute are shared, only the gather differs.</summary>
    public TilePrice[] PriceEach(int cut, TileGrid grid, IReadOnlyList<int> devices, IReadOnlyList<int> gatherers, List<Hop>? hops = null)
    {
        var t = _t;
        var prices = new TilePrice[gatherers.Count];
        string? infeasible = null;
        var shape = _tiling.Geometry.Shape(cut, grid);
        if (shape is null)
        {
            infeasible = $"a {grid} grid is too fine for the maps at cut {cut}";
        }
        else if (shape.Tiles.Count != devices.Count)
        {
            infeasible = $"a {grid} grid has {shape.Tiles.Count} tiles, {devices.Count} devices given";
        }
        else if (devices.FirstOrDefault(d => t.MemoryBytes(0, cut) > t.MemoryBudget[d], -1) is var full && full >= 0)
        {
            infeasible = $"tiles up to cut {cut} need {t.MemoryBytes(0, cut)} bytes on {t.Names[full]}, budget {t.MemoryBudget[full]}";
        }
        if (infeasible is not null)
        {
            Array.Fill(prices, TilePrice.Infeasible(infeasible));
            return prices;
        }

        // The source sends the slices one after another; each tile starts when its slice is in.
        double scatterJ = 0, sending = 0, slowest = 0;
        var ready = new double[devices.Count];
        for (var i = 0; i < devices.Count; i++)
        {
            var d = devices[i];
            var tile = shape!.Tiles[i];
            double arrival = 0;
            if (d != t.Source)
            {
                var ms = t.TransferMs(t.Source, d, tile.InputBytes);
                if (!double.IsFinite(ms))
                {
                    Array.Fill(prices, TilePrice.Infeasible($"no link from {t.Names[t.Source]} to {t.Names[d]}"));
                    return prices;
                }
                sending += ms;
                arrival = sending;
                scatterJ += t.TransferJoules(t.Source, d, tile.InputBytes);
                hops?.Add(new Hop(t.Names[t.Source], t.Names[d], tile.InputBytes, ms));
            }
            var compute = tile.FlopsShare * t.ComputeMs(d, 0, cut);
            slowest = Math.Max(slowest, compute);
            scatterJ += t.ActiveJoulesPerMs[d] * compute;
            ready[i] = arrival + compute;
        }
        var order = Enumerable.Range(0, devices.Count).ToArray();
        Array.Sort([.. ready], order);

        // The outputs reach the gatherer one after another, in the order they are ready.
        for (var k = 0; k < gatherers.Count; k++)
        {
            var gatherer = gatherers[k];
            double energy = scatterJ, receiving = 0, receivedAt = 0, done = 0;
            foreach (var i in order)
            {
                var d = devices[i];
                if (d == gatherer)
                {
                    done = Math.Max(done, ready[i]);
                    continue;
                }
                var bytes = shape!.Tiles[i].OutputBytes;
                var ms = t.TransferMs(d, gatherer, bytes);
                if (!double.IsFinite(ms))
                {
                    infeasible = $"no link from {t.Names[d]} to {t.Names[gatherer]}";
                    break;
                }
                receivedAt = Math.Max(receivedAt, ready[i]) + ms;
                receiving += ms;
                done = Math.Max(done, receivedAt);
                energy += t.TransferJoules(d, gatherer, bytes);
                hops?.Add(new Hop(t.Names[d], t.Names[gatherer], bytes, ms));
            }
            if (infeasible is not null)
            {
                prices[k] = TilePrice.Infeasible(infeasible);
                infeasible = null;
                continue;
            }
            var gather = shape!.GatheredBytes * _gatherMsPerByte[gatherer];
            energy += t.ActiveJoulesPerMs[gatherer] * gather;
            var bottleneck = Math.Max(Math.Max(sending, slowest), Math.Max(receiving, gather));
            prices[k] = new TilePrice(done + gather, energy, bottleneck, slowest, gather, t.MemoryBytes(0, cut), null);
        }
        return prices;
    }
}

/// <summary>Estimates plans whose first stage is a tile group: the group's price plus the layer-wise stages after it.</summary>
internal static class TileGroupCost
{
    public static PlanEstimate Estimate(CostModel model, PlanningState state, Plan plan)
    {
        var stages = plan.Stages;
        var n = state.Profile.NodeCount;
        if (state.Profile.Tiling is not { } tiling) return Infeasible("the plan has a tile group but the profile has no tiling");
        if (stages[0].Tiles is not { } group || stages.Skip(1).Any(s => s.Tiles is not null)) return Infeasible("only the first stage can be a tile group");
        var cut = stages[0].LastNode;
        if (stages[0].FirstNode != 0 || stages.Count < 2) return Infeasible("a tile group runs from node 0 up to a cut, and layer-wise stages follow it");
        if (cut >= n - 1 || !tiling.Geometry.TileableCuts.Contains(cut)) return Infeasible($"cut {cut} is not tileable");
        var names = state.Devices.Select(d => d.Name).ToList();
        if (group.Devices.Concat([stages[0].Device]).FirstOrDefault(d => !names.Contains(d)) is { } unknown) return Infeasible($"unknown device '{unknown}'");
        if (group.Devices.Distinct().Count() != group.Devices.Count) return Infeasible("a device runs two tiles of one group");

        var tables = model.Compile(state);
        var hops = new List<Hop>();
        var price = new TilePricing(model, state, tables).Price(cut, group.Grid, [.. group.Devices.Select(d => names.IndexOf(d))], names.IndexOf(stages[0].Device), hops);
        if (!price.Feasible) return Infeasible(price.InfeasibleReason!);

        var after = new Plan(plan.Version, [.. stages.Skip(1).Select(s => s with { FirstNode = s.FirstNode - cut - 1, LastNode = s.LastNode - cut - 1 })]);
        var rest = model.Estimate(state.Suffix(cut + 1, stages[0].Device), after);
        if (!rest.Feasible) return Infeasible(rest.InfeasibleReason!);
        return new PlanEstimate(
            price.LatencyMs + rest.LatencyMs,
            price.EnergyJ + rest.EnergyJ,
            Math.Max(price.BottleneckMs, rest.BottleneckMs),
            [price.SlowestTileMs + price.GatherMs, .. rest.StageComputeMs],
            [price.MemoryBytes, .. rest.StageMemoryBytes],
            [.. hops, .. rest.Hops],
            true,
            null);
    }

    private static PlanEstimate Infeasible(string reason) =>
        new(double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, [], [], [], false, reason);
}
