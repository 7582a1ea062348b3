namespace EdgeSplit.Planning;

/// <summary>
/// One stage of a plan: <paramref name="Device"/> runs the model's compute nodes
/// <paramref name="FirstNode"/>..<paramref name="LastNode"/> (inclusive, topological order).
/// The boundary after a stage is the cut whose index equals its <see cref="LastNode"/>.
/// With <paramref name="Tiles"/>, the first stage runs as a tile group instead: the tiles run
/// on their devices at once and <paramref name="Device"/> gathers (see <see cref="TileGroup"/>).
/// </summary>
public sealed record Stage(string Device, int FirstNode, int LastNode, TileGroup? Tiles = null);

/// <summary>
/// A versioned assignment of consecutive segments to devices. Stages are contiguous and cover
/// every node; requests enter at the deployment's source device, wherever the first stage runs.
/// </summary>
public sealed record Plan(long Version, IReadOnlyList<Stage> Stages)
{
    /// <summary>The cut indices between consecutive stages, ascending.</summary>
    public IReadOnlyList<int> Cuts => [.. Stages.Take(Stages.Count - 1).Select(s => s.LastNode)];

    /// <summary>Builds a plan from cut indices and one device per resulting segment.</summary>
    public static Plan FromCuts(long version, int nodeCount, IReadOnlyList<int> cuts, IReadOnlyList<string> devices)
    {
        if (devices.Count != cuts.Count + 1)
        {
            throw new ArgumentException($"{cuts.Count} cuts need {cuts.Count + 1} devices, got {devices.Count}", nameof(devices));
        }
        var stages = new List<Stage>(devices.Count);
        var first = 0;
        for (var i = 0; i < devices.Count; i++)
        {
            var last = i < cuts.Count ? cuts[i] : nodeCount - 1;
            if (last < first || last >= nodeCount)
            {
                throw new ArgumentException($"cut {last} is out of order or out of range (model has {nodeCount} nodes)", nameof(cuts));
            }
            stages.Add(new Stage(devices[i], first, last));
            first = last + 1;
        }
        return new Plan(version, stages);
    }

    public override string ToString() => $"v{Version}: " + string.Join(" | ", Stages.Select(s =>
        s.Tiles is null ? $"{s.Device}[{s.FirstNode}..{s.LastNode}]" : $"{s.Tiles}[{s.FirstNode}..{s.LastNode}]->{s.Device}"));
}
