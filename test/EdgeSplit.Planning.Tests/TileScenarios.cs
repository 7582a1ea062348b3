using CsCheck;
using EdgeSplit.Graph.Tiling;

namespace EdgeSplit.Planning.Tests;

/// <summary>
/// A tile geometry from a formula, standing in for a graph in planner tests (the planner's view
/// of a graph is exactly this interface): each tile's area follows its grid weights, and every
/// interior border adds <paramref name="haloPerBorder"/> of that area to its FLOPs and input
/// bytes. Grids of more than <paramref name="maxTiles"/> tiles are too fine.
/// </summary>
internal sealed class FormulaTileGeometry(IReadOnlyList<int> tileableCuts, SegmentProfile profile, double haloPerBorder, int maxTiles = 4) : ITileGeometry
{
    public IReadOnlyList<int> TileableCuts => tileableCuts;

    public TileGroupShape? Shape(int cut, TileGrid grid)
    {
        if (grid.Count > maxTiles) return null;
        var tiles = new List<TileShape>(grid.Count);
        for (var k = 0; k < grid.Count; k++)
        {
            int r = k / grid.Columns, c = k % grid.Columns;
            var area = (double)grid.RowWeights[r] / grid.RowWeights.Sum() * grid.ColumnWeights[c] / grid.ColumnWeights.Sum();
            var borders = (r > 0 ? 1 : 0) + (r < grid.Rows - 1 ? 1 : 0) + (c > 0 ? 1 : 0) + (c < grid.Columns - 1 ? 1 : 0);
            var withHalo = area * (1 + (haloPerBorder * borders));
            tiles.Add(new TileShape(withHalo, (long)(profile.InputBytes * withHalo), (long)(profile.CutBytes[cut] * area)));
        }
        return new TileGroupShape(tiles, tiles.Sum(t => t.OutputBytes));
    }
}

internal static class TileScenarios
{
    /// <summary>Small random instances with some tileable cuts, a halo and a gather cost: 2..5 nodes, 2..3 devices.</summary>
    public static readonly Gen<PlanningState> SmallTiledState =
        from state in Scenarios.SmallState.Where(s => s.Devices.Count >= 2 && s.Profile.NodeCount >= 2)
        from tileable in Gen.Bool.Array[state.Profile.NodeCount - 1]
        from halo in Gen.Double[0, 0.5]
        from gatherMsPerByte in Gen.Double[0, 1e-4]
        select state with
        {
            Profile = state.Profile with
            {
                Tiling = new TilingProfile(
                    new FormulaTileGeometry([.. Enumerable.Range(0, tileable.Length).Where(c => tileable[c])], state.Profile, halo),
                    gatherMsPerByte),
            },
        };

    /// <summary>Every plan that starts with a tile group: every tileable cut, device set, candidate grid, gatherer and layer-wise rest.</summary>
    public static IEnumerable<Plan> AllTiledPlans(CostModel model, PlanningState state)
    {
        var tiling = state.Profile.Tiling!;
        var tables = model.Compile(state);
        var names = state.Devices.Select(d => d.Name).ToArray();
        foreach (var cut in tiling.Geometry.TileableCuts.Where(c => c < state.Profile.NodeCount - 1))
        {
            for (var mask = 0; mask < 1 << names.Length; mask++)
            {
                int[] members = [.. Enumerable.Range(0, names.Length).Where(d => (mask & (1 << d)) != 0)];
                if (members.Length < 2 || members.Length > TileGroupEntries.MaxTileDevices) continue;
                foreach (var (grid, devices) in TileCandidates.For(members, [.. members.Select(d => tables.ComputeMs(d, 0, cut))]))
                {
                    foreach (var gatherer in names)
                    {
                        foreach (var rest in Scenarios.AllPlans(state.Suffix(cut + 1, gatherer)))
                        {
                            yield return new Plan(0, [
                                new Stage(gatherer, 0, cut, new TileGroup(grid, [.. devices.Select(d => names[d])])),
                                .. rest.Stages.Select(s => s with { FirstNode = s.FirstNode + cut + 1, LastNode = s.LastNode + cut + 1 }),
                            ]);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Two Raspberry Pis side by side, the camera on pi1, over a link of <paramref name="bytesPerSecond"/>:
    /// 12 nodes whose first 8 (the tileable ones) hold 80 % of the compute, as a CNN's early layers do.
    /// </summary>
    public static PlanningState TwoPis(double bytesPerSecond, double haloPerBorder = 0.05)
    {
        const int nodes = 12;
        var ms = Enumerable.Range(0, nodes).Select(i => i < 8 ? 10.0 : 5.0).ToArray();
        var cutBytes = Enumerable.Range(0, nodes - 1).Select(i => i < 8 ? 400_000L >> (i / 2) : 8_000L).ToArray();
        var profile = new SegmentProfile(ms, [.. Enumerable.Repeat(1_000_000L, nodes)], cutBytes, 602_112, 40);
        profile = profile with { Tiling = new TilingProfile(new FormulaTileGeometry([.. Enumerable.Range(0, 8)], profile, haloPerBorder), 1e-6) };
        return new PlanningState(
            [new DeviceSpec("pi1", 1, 1, 1L << 31, Scenarios.PiPower), new DeviceSpec("pi2", 1, 1, 1L << 31, Scenarios.PiPower)],
            PlanningState.FullMesh(["pi1", "pi2"], bytesPerSecond, 1),
            profile,
            "pi1");
    }
}
