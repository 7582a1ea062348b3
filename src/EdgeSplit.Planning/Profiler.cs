using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Providers;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace EdgeSplit.Planning;

/// <summary>The measured wall time of one segment (nodes first..last) run as its own partition.</summary>
public sealed record SegmentTiming(int FirstNode, int LastNode, double MedianMs, int Runs);

/// <summary>
/// Per-node compute times of one model on one device profile and execution provider (the
/// provider the sessions really ran on: <c>cpu</c>, <c>cuda</c>...), measured with ONNX Runtime.
/// <see cref="NodeMs"/>[i] is node i's share of its segment's measured wall time, split by
/// ORT's per-node kernel times (nodes ORT fused into a neighbour get 0), so any segment's time
/// is a prefix-sum difference even for segments never run as such.
/// </summary>
public sealed record NodeTimingProfile(
    int FormatVersion,
    string ModelSha256,
    string DeviceProfile,
    DateTimeOffset MeasuredAt,
    int IntraOpThreads,
    IReadOnlyList<double> NodeMs,
    IReadOnlyList<SegmentTiming> Segments,
    string Provider = "cpu")
{
    public double SegmentMs(int firstNode, int lastNode)
    {
        double sum = 0;
        for (var i = firstNode; i <= lastNode; i++) sum += NodeMs[i];
        return sum;
    }
}

/// <summary>How long and how hard to measure, and on which execution provider (the CPU when null).</summary>
public sealed record ProfilerOptions(int WarmupRuns = 2, int TimedRuns = 10, int ProfiledRuns = 3, int IntraOpThreads = 1, ProviderChoice? Provider = null);

/// <summary>
/// Measures per-node compute times of real partitions on this device with ONNX Runtime, and turns
/// them (with the cut sizes of a real run) into the <see cref="SegmentProfile"/> planners use.
/// </summary>
public static class Profiler
{
    /// <summary>The content hash that keys stored profiles.</summary>
    public static string ModelSha256(OnnxModel model) => Convert.ToHexStringLower(SHA256.HashData(model.Proto.ToByteArray()));

    /// <summary>
    /// Splits <paramref name="model"/> at <paramref name="cuts"/> (ascending; empty = whole model),
    /// runs the partitions as a chain on <paramref name="inputs"/>, times each, and spreads each
    /// partition's median wall time over its nodes by ORT's per-node profile.
    /// Pass measured element types (<see cref="CutProfiler.ElementTypes"/>) for models whose types static inference cannot know.
    /// </summary>
    public static NodeTimingProfile Measure(OnnxModel model, IReadOnlyList<int> cuts, IReadOnlyList<TensorData> inputs, string deviceProfile, ProfilerOptions? options = null,
        IReadOnlyDictionary<string, TensorProto.Types.DataType>? elementTypes = null)
    {
        options ??= new ProfilerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.TimedRuns, 1);
        var named = WithUniqueNodeNames(model);
        var nodeIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < named.Nodes.Count; i++) nodeIndex[named.Nodes[i].Name] = i;

        var partitions = new Partitioner(named, elementTypes).Split(cuts);
        var nodeMs = new double[named.Nodes.Count];
        var segments = new List<SegmentTiming>(partitions.Count);
        var carried = inputs.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var scratch = Directory.CreateTempSubdirectory("edgesplit-profile-");
        var provider = ProviderUse.Cpu;
        try
        {
            foreach (var partition in partitions)
            {
                IReadOnlyList<TensorData> outputs;
                var wallMs = new double[options.TimedRuns];
                using (var session = new ModelSession(partition.OnnxBytes, options.IntraOpThreads, options.Provider))
                {
                    provider = session.Provider;
                    outputs = session.Run(carried);
                    for (var i = 1; i < options.WarmupRuns; i++) session.Run(carried);
                    for (var i = 0; i < wallMs.Length; i++)
                    {
                        var start = Stopwatch.GetTimestamp();
                        session.Run(carried);
                        wallMs[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    }
                }
                Array.Sort(wallMs);
                var median = wallMs[wallMs.Length / 2];
                segments.Add(new SegmentTiming(partition.FirstNode, partition.LastNode, median, wallMs.Length));

                var kernelUs = KernelTimes(partition, carried, scratch.FullName, options);
                var shares = new double[partition.LastNode - partition.FirstNode + 1];
                foreach (var (name, us) in kernelUs)
                {
                    if (NodeOf(name, nodeIndex) is { } i && i >= partition.FirstNode && i <= partition.LastNode) shares[i - partition.FirstNode] += us;
                }
                var total = shares.Sum();
                for (var k = 0; k < shares.Length; k++)
                {
                    // Without a usable profile, spread evenly: crude, but the segment total stays right.
                    nodeMs[partition.FirstNode + k] = total > 0 ? median * shares[k] / total : median / shares.Length;
                }

                var next = new Dictionary<string, TensorData>(StringComparer.Ordinal);
                var available = new Dictionary<string, TensorData>(carried, StringComparer.Ordinal);
                foreach (var output in outputs) available[output.Name] = output;
                foreach (var name in partition.Forwards) next[name] = available[name];
                carried = next;
            }
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
        return new NodeTimingProfile(1, ModelSha256(model), deviceProfile, DateTimeOffset.UtcNow, options.IntraOpThreads, nodeMs, segments, provider.Used);
    }

    /// <summary>The node a trace name belongs to; ORT may append suffixes such as <c>_nchwc</c> to names it rewrites.</summary>
    private static int? NodeOf(string traceName, Dictionary<string, int> nodeIndex)
    {
        for (var name = traceName; name.Length > 0; name = name[..Math.Max(0, name.LastIndexOf('_'))])
        {
            if (nodeIndex.TryGetValue(name, out var i)) return i;
        }
        return null;
    }

    /// <summary>Kernel time per node name (microseconds, summed over the profiled runs) from ORT's JSON trace.</summary>
    private static Dictionary<string, double> KernelTimes(Partition partition, IReadOnlyDictionary<string, TensorData> inputs, string scratch, ProfilerOptions options)
    {
        var times = new Dictionary<string, double>(StringComparer.Ordinal);
        if (options.ProfiledRuns <= 0) return times;
        string path;
        // Unoptimised, so no node is fused away or renamed and every node gets its own kernel time;
        // only the shares are used, the totals come from the optimised session's wall time.
        {
            using var session = OrtSessions.Create(partition.OnnxBytes, options.IntraOpThreads, options.Provider ?? ProviderChoice.Cpu, out _, optimize: false, configure: sessionOptions =>
            {
                // The prefix first: setting EnableProfiling hands ORT the prefix current at that moment.
                sessionOptions.ProfileOutputPathPrefix = Path.Combine(scratch, $"p{partition.Index}");
                sessionOptions.EnableProfiling = true;
            });
            var values = session.InputNames.Select(n => inputs[n].ToOrtValue()).ToList();
            try
            {
                using var runOptions = new RunOptions();
                for (var i = 0; i < options.ProfiledRuns; i++)
                {
                    using var _ = session.Run(runOptions, session.InputNames, values, session.OutputNames);
                }
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
            path = session.EndProfiling();
        }
        var traceBytes = File.ReadAllBytes(path);
        File.Delete(path);
        using var trace = JsonDocument.Parse(traceBytes);
        foreach (var e in trace.RootElement.EnumerateArray())
        {
            if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
            var name = e.GetProperty("name").GetString() ?? "";
            const string suffix = "_kernel_time";
            if (!name.EndsWith(suffix, StringComparison.Ordinal) || !e.TryGetProperty("dur", out var dur)) continue;
            var node = name[..^suffix.Length];
            times[node] = times.GetValueOrDefault(node) + dur.GetDouble();
        }
        return times;
    }

    /// <summary>A copy whose nameless nodes get their readable label, so ORT's trace can be mapped back to node indices.</summary>
    private static OnnxModel WithUniqueNodeNames(OnnxModel model)
    {
        var proto = model.Proto.Clone();
        var used = new HashSet<string>(proto.Graph.Node.Select(n => n.Name).Where(n => n.Length > 0), StringComparer.Ordinal);
        for (var k = 0; k < proto.Graph.Node.Count; k++)
        {
            var node = proto.Graph.Node[k];
            if (node.Name.Length > 0) continue;
            var name = $"{node.OpType}_{k}";
            while (!used.Add(name)) name += "_";
            node.Name = name;
        }
        return OnnxModel.FromProto(proto, model.DisplayName);
    }

    /// <summary>
    /// The planner's view of a model: node times from <paramref name="timing"/> (as the reference
    /// device's, relative speed 1), memory per node = weights it first uses + the bytes alive
    /// across the cut after it, bytes per cut from <paramref name="cutSizes"/> (e.g.
    /// <see cref="CutProfiler.Measure"/>), input and output bytes from <paramref name="facts"/>.
    /// </summary>
    public static SegmentProfile BuildSegmentProfile(OnnxModel model, NodeTimingProfile timing, IReadOnlyList<CutSize> cutSizes, IReadOnlyDictionary<string, TensorFacts> facts)
    {
        var n = model.Nodes.Count;
        if (timing.NodeMs.Count != n) throw new ArgumentException($"timing has {timing.NodeMs.Count} nodes, the model {n}", nameof(timing));
        var initializerBytes = model.Proto.Graph.Initializer.ToDictionary(t => t.Name, InitializerBytes, StringComparer.Ordinal);
        var counted = new HashSet<string>(StringComparer.Ordinal);
        var cutBytes = cutSizes.Select(c => c.Bytes).ToArray();
        var outputBytes = model.OutputNames.Sum(o => facts.TryGetValue(o, out var f) ? f.Bytes : 0);
        var memory = new long[n];
        for (var i = 0; i < n; i++)
        {
            foreach (var input in model.Nodes[i].Input)
            {
                if (initializerBytes.TryGetValue(input, out var bytes) && counted.Add(input)) memory[i] += bytes;
            }
            memory[i] += i < n - 1 ? cutBytes[i] : outputBytes;
        }
        var inputBytes = model.Inputs.Sum(i => facts.TryGetValue(i.Name, out var f) ? f.Bytes : 0);
        return new SegmentProfile([.. timing.NodeMs], memory, cutBytes, inputBytes, outputBytes).Validate();
    }

    private static long InitializerBytes(TensorProto t)
    {
        if (!t.RawData.IsEmpty) return t.RawData.Length;
        var count = t.Dims.Aggregate(1L, (a, d) => a * d);
        var elementSize = (TensorProto.Types.DataType)t.DataType switch
        {
            TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Uint64 => 8,
            TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16 or TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Uint16 => 2,
            TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Bool => 1,
            _ => 4,
        };
        return count * elementSize;
    }
}

/// <summary>
/// Stored node-time profiles, one JSON file per (model hash, device profile, provider) in a directory:
/// reused across runs, replaced when fresh measurements drift from them.
/// </summary>
public sealed class ProfileStore(string directory)
{
    public string Directory { get; } = directory;

    public string PathFor(string modelSha256, string deviceProfile, string provider = "cpu")
    {
        static string Safe(string text) => string.Concat(text.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        return Path.Combine(Directory, $"{modelSha256}.{Safe(deviceProfile)}.{Safe(provider)}.json");
    }

    public NodeTimingProfile? TryLoad(string modelSha256, string deviceProfile, string provider = "cpu")
    {
        var path = PathFor(modelSha256, deviceProfile, provider);
        if (!File.Exists(path)) return null;
        try
        {
            var profile = JsonSerializer.Deserialize(File.ReadAllText(path), ProfileJson.Default.NodeTimingProfile);
            return profile is { FormatVersion: 1 } && profile.ModelSha256 == modelSha256 && profile.Provider == provider ? profile : null;
        }
        catch (JsonException)
        {
            // A damaged cache entry is just a miss; it is rewritten after the next measurement.
            return null;
        }
    }

    /// <summary>Writes atomically (temporary file, then rename).</summary>
    public void Save(NodeTimingProfile profile)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = PathFor(profile.ModelSha256, profile.DeviceProfile, profile.Provider);
        var temp = Path.Combine(Directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temp, JsonSerializer.Serialize(profile, ProfileJson.Default.NodeTimingProfile));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The stored profile, or a fresh measurement that is then stored.</summary>
    public NodeTimingProfile GetOrMeasure(string modelSha256, string deviceProfile, Func<NodeTimingProfile> measure, string provider = "cpu")
    {
        var stored = TryLoad(modelSha256, deviceProfile, provider);
        if (stored is not null) return stored;
        var fresh = measure();
        Save(fresh);
        return fresh;
    }

    /// <summary>
    /// True when any observed segment time differs from what <paramref name="stored"/> predicts
    /// for it by more than <paramref name="relativeTolerance"/> (in either direction).
    /// </summary>
    public static bool HasDrifted(NodeTimingProfile stored, IEnumerable<SegmentTiming> observed, double relativeTolerance = 0.25)
    {
        foreach (var o in observed)
        {
            var predicted = stored.SegmentMs(o.FirstNode, o.LastNode);
            if (predicted <= 0) continue;
            if (Math.Abs(o.MedianMs - predicted) > relativeTolerance * predicted) return true;
        }
        return false;
    }

    /// <summary>Keeps <paramref name="stored"/> unless <paramref name="observed"/> drifted; then measures again and stores that.</summary>
    public NodeTimingProfile RefreshIfDrifted(NodeTimingProfile stored, IEnumerable<SegmentTiming> observed, Func<NodeTimingProfile> measure, double relativeTolerance = 0.25)
    {
        if (!HasDrifted(stored, observed, relativeTolerance)) return stored;
        var fresh = measure();
        Save(fresh);
        return fresh;
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(NodeTimingProfile))]
internal sealed partial class ProfileJson : JsonSerializerContext;
