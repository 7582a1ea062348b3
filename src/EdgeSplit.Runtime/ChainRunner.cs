using EdgeSplit.Graph;
using EdgeSplit.Runtime.Providers;

namespace EdgeSplit.Runtime;

/// <summary>
/// Runs partitions one after another in this process, passing on exactly what each stage
/// forwards, as the distributed runtime would: the reference for "chained equals monolithic".
/// </summary>
public sealed class ChainRunner : IDisposable
{
    private readonly IReadOnlyList<Partition> _partitions;
    private readonly List<ModelSession> _sessions;

    public ChainRunner(IReadOnlyList<Partition> partitions, int intraOpThreads = 1, ProviderChoice? provider = null)
    {
        _partitions = partitions;
        _sessions = [];
        try
        {
            foreach (var partition in partitions)
            {
                _sessions.Add(new ModelSession(partition.OnnxBytes, intraOpThreads, provider));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The provider each partition's session really runs on, in order.</summary>
    public IReadOnlyList<ProviderUse> Providers => [.. _sessions.Select(s => s.Provider)];

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
