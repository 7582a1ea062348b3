using EdgeSplit.Graph;
using EdgeSplit.Graph.Tiling;
using EdgeSplit.Planning;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// Splits the measured compute evenly over the live devices (source first): the default when no
/// split is given and no planner is plugged in.
/// </summary>
public sealed class EvenComputePlanSource : IPlanSource
{
    public PlanProposal Propose(PlanRequest request)
    {
        if (request.LiveDevices.Count == 0)
        {
            throw new NoPlanFitsException("no agent is reachable; start agents or check --agents");
        }
        var costs = request.NodeCostsMs.Count == request.NodeCount ? request.NodeCostsMs : Enumerable.Repeat(1.0, request.NodeCount).ToList();
        var devices = Ordered(request).Take(request.NodeCount).ToList();
        return new PlanProposal(Plan.FromCuts(0, request.NodeCount, EvenCuts(costs, devices.Count), devices));
    }

    /// <summary>Cut indices splitting <paramref name="costs"/> into <paramref name="segments"/> nearly equal sums.</summary>
    public static IReadOnlyList<int> EvenCuts(IReadOnlyList<double> costs, int segments)
    {
        var total = costs.Sum();
        var cuts = new List<int>();
        double running = 0;
        for (var node = 0; node < costs.Count - 1 && cuts.Count < segments - 1; node++)
        {
            running += costs[node];
            var target = total * (cuts.Count + 1) / segments;
            var remainingNodes = costs.Count - 1 - node;
            var remainingCuts = segments - 1 - cuts.Count;
            // Cut once the running sum reaches the next share, or when later cuts would run out of nodes.
            if (running >= target || remainingNodes <= remainingCuts)
            {
                cuts.Add(node);
            }
        }
        return cuts;
    }

    internal static IEnumerable<string> Ordered(PlanRequest request) =>
        request.LiveDevices.Contains(request.SourceDevice)
            ? request.LiveDevices.Where(d => d == request.SourceDevice).Concat(request.LiveDevices.Where(d => d != request.SourceDevice))
            : request.LiveDevices;
}

/// <summary>
/// A split fixed by hand (<c>--split</c>): its cuts over the live devices in order; with fewer live
/// devices than segments, the last cuts are dropped so the remaining devices take the segments over,
/// and the whole split comes back when they return.
/// </summary>
public sealed class FixedCutsPlanSource(IReadOnlyList<int> cuts) : IPlanSource
{
    public IReadOnlyList<int> Cuts { get; } = cuts;

    public PlanProposal Propose(PlanRequest request)
    {
        if (request.LiveDevices.Count == 0)
        {
            throw new NoPlanFitsException("no agent is reachable; start agents or check --agents");
        }
        var devices = EvenComputePlanSource.Ordered(request).Take(Cuts.Count + 1).ToList();
        var kept = Cuts.Take(devices.Count - 1).ToList();
        return new PlanProposal(Plan.FromCuts(0, request.NodeCount, kept, devices));
    }
}

/// <summary>
/// Tiles fixed by hand: nodes 0..<see cref="Cut"/> as a tile group of <see cref="Grid"/> over the
/// first live devices (source first), gathered on the source, which runs the rest of the model.
/// With fewer live devices than tiles, a grid of strips (one row or one column) keeps its
/// orientation over the live devices; any other grid, or one device left, runs the whole model
/// on the source. The whole grid comes back when the devices do.
/// </summary>
public sealed class FixedTilesPlanSource(int cut, TileGrid grid) : IPlanSource
{
    public int Cut { get; } = cut;

    public TileGrid Grid { get; } = grid;

    public PlanProposal Propose(PlanRequest request)
    {
        if (request.LiveDevices.Count == 0)
        {
            throw new NoPlanFitsException("no agent is reachable; start agents or check --agents");
        }
        if (Cut < 0 || Cut >= request.NodeCount - 1)
        {
            throw new BadInputException($"tiles up to node {Cut}: the model has {request.NodeCount} nodes and layers after the tiles must remain");
        }
        var devices = EvenComputePlanSource.Ordered(request).ToList();
        var grid = devices.Count >= Grid.Count ? Grid
            : devices.Count >= 2 && Grid.Columns == 1 ? TileGrid.Even(devices.Count, 1)
            : devices.Count >= 2 && Grid.Rows == 1 ? TileGrid.Even(1, devices.Count)
            : null;
        if (grid is null)
        {
            return new PlanProposal(Plan.FromCuts(0, request.NodeCount, [], [devices[0]]));
        }
        var gatherer = devices[0];
        return new PlanProposal(new Plan(0, [
            new Stage(gatherer, 0, Cut, new TileGroup(grid, [.. devices.Take(grid.Count)])),
            new Stage(gatherer, Cut + 1, request.NodeCount - 1),
        ]));
    }
}
