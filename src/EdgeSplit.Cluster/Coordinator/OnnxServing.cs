using System.Text.Json;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>Turns a loaded ONNX model into what the coordinator serves, with the Graph partitioner behind it.</summary>
public static class OnnxServing
{
    public static ServedModel Create(OnnxModel model, string name, IReadOnlyList<double>? nodeCostsMs = null) => new(
        name,
        model.Nodes.Count,
        [.. model.Inputs.Select(i => new ModelInputSpec(i.Name, (TensorElementType)(int)i.ElementType, i.Shape?.Select(d => d.Value).ToList()))],
        model.OutputNames,
        new PartitionerSource(model),
        nodeCostsMs);

    /// <summary>Cuts through <see cref="Partitioner"/>; each partition keeps its content hash for agent caching.</summary>
    public sealed class PartitionerSource(OnnxModel model) : IPartitionSource
    {
        private readonly Partitioner _partitioner = new(model);

        public IReadOnlyList<StagePartition> Split(IReadOnlyList<int> cuts) =>
            [.. _partitioner.Split(cuts).Select(p => new StagePartition(p.OnnxBytes, p.Sha256, p.Inputs, p.Forwards))];
    }

    /// <summary>
    /// Measured compute per node (ms, mean of <paramref name="runs"/> runs) from ONNX Runtime's
    /// profiler, with graph optimisation off so every node keeps its own kernel.
    /// </summary>
    public static IReadOnlyList<double> MeasureNodeCostsMs(OnnxModel model, int runs = 3, int threads = 1)
    {
        var copy = model.Proto.Clone();
        var graphNodes = model.Proto.Graph.Node;
        var names = new string[model.Nodes.Count];
        for (var i = 0; i < model.Nodes.Count; i++)
        {
            var index = -1;
            for (var j = 0; j < graphNodes.Count && index < 0; j++)
            {
                index = ReferenceEquals(graphNodes[j], model.Nodes[i]) ? j : -1;
            }
            names[i] = $"edgesplit_node_{i}";
            if (index >= 0)
            {
                copy.Graph.Node[index].Name = names[i];
            }
        }
        var directory = Directory.CreateTempSubdirectory("edgesplit-profile-");
        try
        {
            using var options = OrtSessions.CreateOptions(threads, optimize: false);
            // The prefix must be set first: enabling profiling reads it at that moment.
            options.ProfileOutputPathPrefix = Path.Combine(directory.FullName, "profile");
            options.EnableProfiling = true;
            using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(copy), options);
            var inputs = session.InputMetadata.Select(kv =>
            {
                var shape = kv.Value.Dimensions.Select(d => d > 0 ? (long)d : 1L).ToArray();
                var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, kv.Value.ElementDataType, shape);
                value.GetTensorMutableRawData().Clear();
                return (kv.Key, value);
            }).ToList();
            try
            {
                using var runOptions = new RunOptions();
                for (var r = 0; r < runs + 1; r++)
                {
                    using var outputs = session.Run(runOptions, [.. inputs.Select(i => i.Key)], [.. inputs.Select(i => i.value)], [.. session.OutputNames]);
                }
            }
            finally
            {
                inputs.ForEach(i => i.value.Dispose());
            }
            var path = session.EndProfiling();
            var totals = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            using (var document = JsonDocument.Parse(File.ReadAllBytes(Path.GetFullPath(path))))
            {
                foreach (var e in document.RootElement.EnumerateArray())
                {
                    if (e.TryGetProperty("cat", out var cat) && cat.GetString() == "Node"
                        && e.GetProperty("name").GetString() is { } name && name.EndsWith("_kernel_time", StringComparison.Ordinal))
                    {
                        var node = name[..^"_kernel_time".Length];
                        (totals.TryGetValue(node, out var list) ? list : totals[node] = []).Add(e.GetProperty("dur").GetDouble() / 1000.0);
                    }
                }
            }
            // The first run pays one-off allocations: skip it when there are later ones.
            return [.. names.Select(n => totals.TryGetValue(n, out var d) ? d.Skip(d.Count > 1 ? 1 : 0).Average() : 0.0)];
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
