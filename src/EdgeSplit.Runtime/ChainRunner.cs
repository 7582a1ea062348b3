using EdgeSplit.Graph;

namespace EdgeSplit.Runtime;

/// <summary>
/// Runs partitions one after another in this process, passing on exactly what each stage
/// forwards, as the distributed runtime would: the reference for "chained equals monolithic".
/// </summary>
public sealed class ChainRunner : IDisposable
{
    private readonly IReadOnlyList<Partition> _partitions;
    private readonly List<ModelSession> _sessions;

    public ChainRunner(IReadOnlyList<Partition> partitions, int intraOpThreads = 1)
    {
        _partitions = partitions;
        _sessions = [.. partitions.Select(p => new ModelSession(p.OnnxBytes, intraOpThreads))];
    }

    /// <param name="inputs">The model's inputs.</param>
    /// <param name="onHop">Applied to every tensor sent from one stage to the next (e.g. a lossy codec round trip).</param>
    public IReadOnlyList<TensorData> Run(IReadOnlyList<TensorData> inputs, Func<TensorData, TensorData>? onHop = null)
    {
        var carried = inputs.ToDictionary(t => t.Name, StringComparer.Ordinal);
        for (var i = 0; i < _partitions.Count; i++)
        {
            var partition = _partitions[i];
            var available = new Dictionary<string, TensorData>(carried, StringComparer.Ordinal);
            foreach (var output in _sessions[i].Run(carried))
            {
                available[output.Name] = output;
            }
            var last = i == _partitions.Count - 1;
            carried = new Dictionary<string, TensorData>(StringComparer.Ordinal);
            foreach (var name in partition.Forwards)
            {
                if (!available.TryGetValue(name, out var tensor))
                {
                    throw new InvalidOperationException($"partition {i} should forward '{name}' but does not have it");
                }
                carried[name] = last || onHop is null ? tensor : onHop(tensor);
            }
        }
        return [.. carried.Values];
    }

    public void Dispose()
    {
        foreach (var session in _sessions)
        {
            session.Dispose();
        }
    }
}
