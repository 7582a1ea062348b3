using EdgeSplit.Graph.Tiling;

namespace EdgeSplit.Runtime;

/// <summary>
/// Runs a tile group in this process as the devices would: the scatter slices the image, every
/// tile runs its partition on its slice (one after another here), the gather joins the tiles'
/// regions into the cut's tensors. The in-process reference for "gathered equals monolithic".
/// </summary>
public sealed class TileGroupRunner : IDisposable
{
    private readonly TileGroupPartitions _partitions;
    private readonly ModelSession _scatter;
    private readonly List<ModelSession> _tiles = [];
    private readonly ModelSession _gather;

    public TileGroupRunner(TileGroupPartitions partitions, int intraOpThreads = 1)
    {
        _partitions = partitions;
        _scatter = new ModelSession(partitions.Scatter.OnnxBytes, intraOpThreads);
        try
        {
            foreach (var tile in partitions.Tiles)
            {
                _tiles.Add(new ModelSession(tile.OnnxBytes, intraOpThreads));
            }
            _gather = new ModelSession(partitions.Gather.OnnxBytes, intraOpThreads);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The tensors alive across the cut (<see cref="Graph.Partition.Forwards"/> of the gather), from the model's inputs.</summary>
    public IReadOnlyList<TensorData> Run(IReadOnlyList<TensorData> inputs)
    {
        var slices = _scatter.Run(inputs).ToDictionary(t => t.Name, StringComparer.Ordinal);
        var regions = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var tile in _tiles)
        {
            foreach (var output in tile.Run(slices))
            {
                regions[output.Name] = output;
            }
        }
        var gathered = _gather.Run(regions).ToDictionary(t => t.Name, StringComparer.Ordinal);
        return [.. _partitions.Gather.Forwards.Select(name => gathered[name])];
    }

    public void Dispose()
    {
        _scatter.Dispose();
        foreach (var tile in _tiles)
        {
            tile.Dispose();
        }
        _gather?.Dispose();
    }
}
