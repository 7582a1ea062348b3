using System.Security.Cryptography;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace EdgeSplit.Graph;

/// <summary>
/// A standalone ONNX model for compute nodes <see cref="FirstNode"/>..<see cref="LastNode"/>.
/// A stage receives <see cref="Receives"/> (the live set of the cut before it, or the model's
/// inputs), runs its session on <see cref="Inputs"/>, and sends <see cref="Forwards"/> on: its
/// <see cref="Outputs"/> plus whatever it received that a later stage still needs.
/// </summary>
public sealed record Partition(
    int Index,
    int FirstNode,
    int LastNode,
    IReadOnlyList<string> Receives,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Outputs,
    IReadOnlyList<string> Forwards,
    byte[] OnnxBytes)
{
    private string? _sha256;

    /// <summary>Content hash of <see cref="OnnxBytes"/>, lower-case hex: the cache key on every device.</summary>
    public string Sha256 => _sha256 ??= Convert.ToHexStringLower(SHA256.HashData(OnnxBytes));
}

/// <summary>A boundary tensor whose element type no declaration or rule gives: run the model to learn it.</summary>
public sealed class UnknownElementTypeException(string tensor, string opType)
    : BadInputException($"cannot tell the element type of tensor '{tensor}' (made by a {opType} node) without running the model; this operator's outputs are not typed in the file")
{
    public string Tensor { get; } = tensor;
}

/// <summary>Cuts a parsed model into standalone partitions between chosen cuts.</summary>
public sealed class Partitioner
{
    private readonly OnnxModel _model;
    private readonly Dictionary<string, ValueInfoProto> _declared = new(StringComparer.Ordinal);
    private readonly IReadOnlyDictionary<string, DataType> _types;

    /// <param name="model">The model to cut.</param>
    /// <param name="measuredTypes">
    /// Element types observed by running the model, for tensors whose type no rule can infer
    /// (custom operators, control flow); may be null.
    /// </param>
    public Partitioner(OnnxModel model, IReadOnlyDictionary<string, DataType>? measuredTypes = null)
    {
        _model = model;
        var graph = model.Proto.Graph;
        foreach (var info in graph.ValueInfo.Concat(graph.Input).Concat(graph.Output))
        {
            _declared[info.Name] = info;
        }
        if (measuredTypes is null)
        {
            _types = model.ElementTypes;
        }
        else
        {
            var merged = new Dictionary<string, DataType>(model.ElementTypes, StringComparer.Ordinal);
            foreach (var (name, type) in measuredTypes)
            {
                merged[name] = type;
            }
            _types = merged;
        }
    }

    /// <summary>Splits at <paramref name="cutIndices"/> (ascending, distinct); no cut gives the whole model.</summary>
    public IReadOnlyList<Partition> Split(IReadOnlyList<int> cutIndices)
    {
        var last = _model.Nodes.Count - 2;
        for (var i = 0; i < cutIndices.Count; i++)
        {
            if (cutIndices[i] < 0 || cutIndices[i] > last)
            {
                throw new BadInputException(last < 0
                    ? $"cut {cutIndices[i]} is out of range: '{_model.DisplayName}' has a single node and cannot be cut"
                    : $"cut {cutIndices[i]} is out of range: '{_model.DisplayName}' has cuts 0..{last}; list them with 'edgesplit inspect'");
            }
            if (i > 0 && cutIndices[i] <= cutIndices[i - 1])
            {
                throw new BadInputException($"cuts must be ascending and distinct, got {string.Join(',', cutIndices)}");
            }
        }
        var partitions = new List<Partition>(cutIndices.Count + 1);
        var first = 0;
        for (var i = 0; i <= cutIndices.Count; i++)
        {
            var lastNode = i < cutIndices.Count ? cutIndices[i] : _model.Nodes.Count - 1;
            partitions.Add(Extract(i, first, lastNode));
            first = lastNode + 1;
        }
        return partitions;
    }

    /// <summary>Extracts the partition of nodes <paramref name="firstNode"/>..<paramref name="lastNode"/>.</summary>
    public Partition Extract(int index, int firstNode, int lastNode)
    {
        var receives = firstNode == 0 ? ModelInputsInUse() : _model.LiveAfter(firstNode - 1);
        var forwards = _model.LiveAfter(lastNode);

        var produced = new HashSet<string>(StringComparer.Ordinal);
        var inputs = new List<string>();
        var seenInputs = new HashSet<string>(StringComparer.Ordinal);
        var constants = new List<string>();
        var seenConstants = new HashSet<string>(StringComparer.Ordinal);
        for (var p = firstNode; p <= lastNode; p++)
        {
            foreach (var name in _model.InputsOf(p))
            {
                if (produced.Contains(name))
                {
                    continue;
                }
                if (_model.IsConstant(name))
                {
                    if (seenConstants.Add(name))
                    {
                        constants.Add(name);
                    }
                }
                else if (seenInputs.Add(name))
                {
                    inputs.Add(name);
                }
            }
            foreach (var output in _model.Nodes[p].Output)
            {
                if (output.Length > 0)
                {
                    produced.Add(output);
                }
            }
        }
        var outputs = forwards.Where(produced.Contains).ToList();

        var source = _model.Proto;
        var graph = new GraphProto { Name = $"{source.Graph.Name}_part{index}" };
        foreach (var name in constants)
        {
            if (_model.ConstantNodes.TryGetValue(name, out var constantNode))
            {
                graph.Node.Add(constantNode);
            }
            else if (_model.Initializers.TryGetValue(name, out var initializer))
            {
                graph.Initializer.Add(initializer);
            }
            else
            {
                graph.SparseInitializer.Add(source.Graph.SparseInitializer.First(s => s.Values?.Name == name));
            }
        }
        for (var p = firstNode; p <= lastNode; p++)
        {
            graph.Node.Add(_model.Nodes[p]);
            foreach (var output in _model.Nodes[p].Output)
            {
                if (output.Length > 0 && !outputs.Contains(output) && _declared.TryGetValue(output, out var info) && info.Type is not null)
                {
                    graph.ValueInfo.Add(info);
                }
            }
        }
        foreach (var name in inputs)
        {
            graph.Input.Add(Signature(name));
        }
        foreach (var name in outputs)
        {
            graph.Output.Add(Signature(name));
        }

        return new Partition(index, firstNode, lastNode, receives, inputs, outputs, forwards, PartitionModel.Serialize(source, graph));
    }

    private List<string> ModelInputsInUse() =>
        [.. _model.Inputs.Select(i => i.Name).Where(n => _model.LastUseOf(n) >= 0)];

    /// <summary>The declared signature of a boundary tensor, or its inferred element type with an open shape.</summary>
    private ValueInfoProto Signature(string name)
    {
        if (_declared.TryGetValue(name, out var declared) && declared.Type?.TensorType is { ElemType: > 0 })
        {
            return declared;
        }
        if (!_types.TryGetValue(name, out var type))
        {
            var producer = _model.ProducerOf(name);
            var op = producer >= 0 ? _model.Nodes[producer].OpType : "?";
            throw new UnknownElementTypeException(name, op);
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } },
        };
    }
}
