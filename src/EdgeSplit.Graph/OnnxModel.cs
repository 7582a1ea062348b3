using Onnx;

namespace EdgeSplit.Graph;

/// <summary>
/// An ONNX model parsed once and indexed for cutting: compute nodes in topological order, who
/// produces and who last needs each tensor, initializers and Constant nodes (which are never
/// sent over a cut: each partition carries its own copy).
/// </summary>
public sealed class OnnxModel
{
    private readonly Dictionary<string, int> _producer = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _lastUse = new(StringComparer.Ordinal);
    private readonly List<string>[] _nodeInputs;
    private IReadOnlyList<Cut>? _cuts;
    private IReadOnlyList<long>? _cumulative;

    private OnnxModel(ModelProto proto, string displayName)
    {
        Proto = proto;
        DisplayName = displayName;
        var graph = proto.Graph;

        foreach (var init in graph.Initializer)
        {
            Initializers[init.Name] = init;
        }
        foreach (var sparse in graph.SparseInitializer)
        {
            if (sparse.Values is { } values)
            {
                SparseInitializerNames.Add(values.Name);
            }
        }

        var compute = new List<NodeProto>(graph.Node.Count);
        foreach (var node in graph.Node)
        {
            // A Constant node is data, not work: partitions copy it rather than receive its output.
            if (node.OpType == "Constant" && IsDefaultDomain(node.Domain) && node.Output.Count == 1)
            {
                ConstantNodes[node.Output[0]] = node;
            }
            else
            {
                compute.Add(node);
            }
        }

        Inputs = [.. graph.Input
            .Where(i => !Initializers.ContainsKey(i.Name) && !SparseInitializerNames.Contains(i.Name))
            .Select(ToModelInput)];
        OutputNames = [.. graph.Output.Select(o => o.Name)];

        Nodes = WithoutDeadNodes(TopologicalOrder(compute));
        _nodeInputs = new List<string>[Nodes.Count];
        IndexTensors();
        ElementTypes = ElementTypeInference.Infer(this);
        ParameterCount = ParameterCounter.Count(proto);
    }

    /// <summary>The parsed protobuf. Treat it as read-only: partitions share its tensors.</summary>
    public ModelProto Proto { get; }

    /// <summary>The file name or label used in messages.</summary>
    public string DisplayName { get; }

    /// <summary>Compute nodes in topological order (Constant nodes excluded).</summary>
    public IReadOnlyList<NodeProto> Nodes { get; }

    public IReadOnlyList<ModelInput> Inputs { get; }

    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>Parameters counted as PyTorch counts them (see <see cref="ParameterCounter"/>).</summary>
    public long ParameterCount { get; }

    /// <summary>Element types known without running the model (declared or inferred per operator).</summary>
    public IReadOnlyDictionary<string, TensorProto.Types.DataType> ElementTypes { get; }

    public int OpsetVersion => (int)(Proto.OpsetImport.FirstOrDefault(o => IsDefaultDomain(o.Domain))?.Version ?? 0);

    internal Dictionary<string, TensorProto> Initializers { get; } = new(StringComparer.Ordinal);

    internal HashSet<string> SparseInitializerNames { get; } = new(StringComparer.Ordinal);

    internal Dictionary<string, NodeProto> ConstantNodes { get; } = new(StringComparer.Ordinal);

    /// <summary>Every valid cut, one between each pair of consecutive compute nodes.</summary>
    public IReadOnlyList<Cut> Cuts => _cuts ??= FindCuts();

    /// <summary>Reads and indexes an ONNX file; every problem with the file is a <see cref="BadInputException"/>.</summary>
    public static OnnxModel Load(string path)
    {
        if (Directory.Exists(path))
        {
            throw new BadInputException($"'{path}' is a directory, not an ONNX file; pass the path of a .onnx file");
        }
        if (!File.Exists(path))
        {
            throw new BadInputException($"model file '{path}' does not exist; check the path, or create zoo models with 'edgesplit zoo all --out DIR'");
        }
        var bytes = File.ReadAllBytes(path);
        var model = OnnxFile.Parse(bytes, path);
        OnnxFile.InlineExternalData(model, Path.GetDirectoryName(Path.GetFullPath(path))!, path);
        return new OnnxModel(model, path);
    }

    /// <summary>Parses ONNX bytes (e.g. a partition received over the network).</summary>
    public static OnnxModel Parse(byte[] bytes, string displayName) => new(OnnxFile.Parse(bytes, displayName), displayName);

    /// <summary>Wraps an already-built protobuf (e.g. from the model zoo).</summary>
    public static OnnxModel FromProto(ModelProto proto, string displayName)
    {
        OnnxFile.Validate(proto, displayName);
        return new OnnxModel(proto, displayName);
    }

    /// <summary>
    /// Parameters of nodes 0..i for each i: every weight counted once, at its first user, with
    /// the rule of <see cref="ParameterCounter"/>.
    /// </summary>
    public IReadOnlyList<long> CumulativeParameters => _cumulative ??= CountCumulativeParameters();

    /// <summary>Position in <see cref="Nodes"/> of the node producing <paramref name="tensor"/>, or -1 for model inputs, initializers and constants.</summary>
    public int ProducerOf(string tensor) => _producer.TryGetValue(tensor, out var p) ? p : -1;

    /// <summary>Last position that needs <paramref name="tensor"/>; <c>Nodes.Count</c> when it is a model output.</summary>
    public int LastUseOf(string tensor) => _lastUse.TryGetValue(tensor, out var u) ? u : -1;

    /// <summary>The inputs of node <paramref name="position"/>, including names its subgraphs take from the outer scope.</summary>
    public IReadOnlyList<string> InputsOf(int position) => _nodeInputs[position];

    /// <summary>True for tensors a partition carries itself (initializers and Constant outputs).</summary>
    public bool IsConstant(string tensor) =>
        Initializers.ContainsKey(tensor) || ConstantNodes.ContainsKey(tensor) || SparseInitializerNames.Contains(tensor);

    /// <summary>
    /// Tensors alive between node <paramref name="afterNode"/> and the next one, in a stable order:
    /// model inputs first, then by producer position. -1 gives the model's inputs as consumed.
    /// </summary>
    public IReadOnlyList<string> LiveAfter(int afterNode)
    {
        if (afterNode >= Nodes.Count - 1)
        {
            return OutputNames;
        }
        var live = new List<(int Producer, int Order, string Name)>();
        var order = 0;
        foreach (var input in Inputs)
        {
            if (LastUseOf(input.Name) > afterNode)
            {
                live.Add((-1, order++, input.Name));
            }
        }
        for (var p = 0; p <= afterNode; p++)
        {
            foreach (var output in Nodes[p].Output)
            {
                if (output.Length > 0 && LastUseOf(output) > afterNode)
                {
                    live.Add((p, order++, output));
                }
            }
        }
        return [.. live.OrderBy(l => l.Producer).ThenBy(l => l.Order).Select(l => l.Name)];
    }

    private IReadOnlyList<Cut> FindCuts()
    {
        var cuts = new List<Cut>(Math.Max(0, Nodes.Count - 1));
        for (var i = 0; i < Nodes.Count - 1; i++)
        {
            var node = Nodes[i];
            cuts.Add(new Cut(i, i, NodeLabel(node, i), node.OpType, LiveAfter(i)));
        }
        return cuts;
    }

    /// <summary>A readable name for a node, even when the exporter gave it none.</summary>
    public static string NodeLabel(NodeProto node, int position) =>
        string.IsNullOrEmpty(node.Name) ? $"{node.OpType}_{position}" : node.Name;

    private void IndexTensors()
    {
        for (var p = 0; p < Nodes.Count; p++)
        {
            var inputs = new List<string>();
            foreach (var input in Nodes[p].Input)
            {
                if (input.Length > 0)
                {
                    inputs.Add(input);
                }
            }
            foreach (var attr in Nodes[p].Attribute)
            {
                foreach (var sub in Subgraphs.Of(attr))
                {
                    inputs.AddRange(Subgraphs.OuterScopeNames(sub));
                }
            }
            _nodeInputs[p] = [.. inputs.Distinct(StringComparer.Ordinal)];
            foreach (var input in _nodeInputs[p])
            {
                _lastUse[input] = p;
            }
            foreach (var output in Nodes[p].Output)
            {
                if (output.Length > 0)
                {
                    _producer[output] = p;
                }
            }
        }
        foreach (var output in OutputNames)
        {
            _lastUse[output] = Nodes.Count;
        }
    }

    private List<NodeProto> TopologicalOrder(List<NodeProto> compute)
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        known.UnionWith(Inputs.Select(i => i.Name));
        known.UnionWith(Initializers.Keys);
        known.UnionWith(SparseInitializerNames);
        known.UnionWith(ConstantNodes.Keys);

        // Kahn's algorithm, always taking the earliest ready node so a sorted file keeps its order.
        var producerOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < compute.Count; i++)
        {
            foreach (var output in compute[i].Output)
            {
                if (output.Length > 0 && !producerOf.TryAdd(output, i))
                {
                    throw new BadInputException($"'{DisplayName}' is not a valid ONNX graph: tensor '{output}' is produced twice; re-export the model");
                }
            }
        }
        var waiting = new int[compute.Count];
        var dependents = new List<int>[compute.Count];
        for (var i = 0; i < compute.Count; i++)
        {
            dependents[i] = [];
        }
        for (var i = 0; i < compute.Count; i++)
        {
            var needs = compute[i].Input.Where(n => n.Length > 0)
                .Concat(compute[i].Attribute.SelectMany(Subgraphs.Of).SelectMany(Subgraphs.OuterScopeNames))
                .Distinct(StringComparer.Ordinal);
            foreach (var name in needs)
            {
                if (producerOf.TryGetValue(name, out var producer))
                {
                    if (producer != i)
                    {
                        waiting[i]++;
                        dependents[producer].Add(i);
                    }
                }
                else if (!known.Contains(name))
                {
                    throw new BadInputException(
                        $"'{DisplayName}' is truncated or inconsistent: node '{NodeLabel(compute[i], i)}' ({compute[i].OpType}) uses tensor '{name}' that nothing produces; re-export the model");
                }
            }
        }
        var ready = new PriorityQueue<int, int>();
        for (var i = 0; i < compute.Count; i++)
        {
            if (waiting[i] == 0)
            {
                ready.Enqueue(i, i);
            }
        }
        var ordered = new List<NodeProto>(compute.Count);
        while (ready.TryDequeue(out var i, out _))
        {
            ordered.Add(compute[i]);
            foreach (var d in dependents[i])
            {
                if (--waiting[d] == 0)
                {
                    ready.Enqueue(d, d);
                }
            }
        }
        if (ordered.Count != compute.Count)
        {
            throw new BadInputException($"'{DisplayName}' is not a valid ONNX graph: its nodes form a cycle; re-export the model");
        }
        foreach (var output in OutputNames)
        {
            if (!producerOf.ContainsKey(output) && !known.Contains(output))
            {
                throw new BadInputException($"'{DisplayName}' is truncated or inconsistent: output '{output}' is never produced; re-export the model");
            }
        }
        return ordered;
    }

    /// <summary>Nodes that contribute to no output: ONNX Runtime drops them, and a partition of only those would have no outputs.</summary>
    public int DeadNodeCount { get; private set; }

    private List<NodeProto> WithoutDeadNodes(List<NodeProto> ordered)
    {
        var needed = new HashSet<string>(OutputNames, StringComparer.Ordinal);
        var keep = new bool[ordered.Count];
        for (var i = ordered.Count - 1; i >= 0; i--)
        {
            var node = ordered[i];
            if (!node.Output.Any(needed.Contains))
            {
                continue;
            }
            keep[i] = true;
            needed.UnionWith(node.Input.Where(n => n.Length > 0));
            needed.UnionWith(node.Attribute.SelectMany(Subgraphs.Of).SelectMany(Subgraphs.OuterScopeNames));
        }
        var live = ordered.Where((_, i) => keep[i]).ToList();
        DeadNodeCount = ordered.Count - live.Count;
        return live;
    }

    private List<long> CountCumulativeParameters()
    {
        var parameters = ParameterCounter.Parameters(Proto);
        var counted = new HashSet<string>(StringComparer.Ordinal);
        var cumulative = new List<long>(Nodes.Count);
        long total = 0;
        for (var p = 0; p < Nodes.Count; p++)
        {
            foreach (var name in InputsOf(p))
            {
                if (parameters.TryGetValue(name, out var elements) && counted.Add(name))
                {
                    total += elements;
                }
            }
            cumulative.Add(total);
        }
        return cumulative;
    }

    private static ModelInput ToModelInput(ValueInfoProto info)
    {
        var tensorType = info.Type?.TensorType;
        var elementType = (TensorProto.Types.DataType)(tensorType?.ElemType ?? 0);
        IReadOnlyList<Dim>? shape = tensorType?.Shape is { } s
            ? [.. s.Dim.Select(d => d.HasDimValue ? new Dim(d.DimValue, null) : new Dim(null, d.HasDimParam ? d.DimParam : null))]
            : null;
        return new ModelInput(info.Name, elementType, shape);
    }

    internal static bool IsDefaultDomain(string domain) => domain.Length == 0 || domain == "ai.onnx";
}
