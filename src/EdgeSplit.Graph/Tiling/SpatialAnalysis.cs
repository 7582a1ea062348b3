using System.Runtime.InteropServices;
using Onnx;

namespace EdgeSplit.Graph.Tiling;

/// <summary>
/// Where a model can be cut into tiles: walks the nodes from the image input and follows every
/// feature map's NCHW shape until the first node that breaks spatial independence (global
/// pooling, flatten, a matrix product, resampling, an unknown operator...). That node ends the
/// tileable prefix; a cut before it is tileable when everything alive across it is a feature map
/// of the prefix (or a constant). Nodes computed only from constants are recomputed where needed.
/// </summary>
public sealed class SpatialAnalysis
{
    private static readonly HashSet<string> Random = new(StringComparer.Ordinal)
    {
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
    };

    private readonly Dictionary<string, long[]> _maps = new(StringComparer.Ordinal);
    private readonly HashSet<string> _static = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long[]> _staticShapes = new(StringComparer.Ordinal);
    private readonly SpatialNode?[] _nodes;
    private readonly string?[] _cutReasons;
    private readonly double[] _prefixFlops;

    private SpatialAnalysis(OnnxModel model, IReadOnlyDictionary<string, long[]> inputShapes)
    {
        Model = model;
        _nodes = new SpatialNode?[model.Nodes.Count];
        _cutReasons = new string?[Math.Max(0, model.Nodes.Count - 1)];
        _prefixFlops = new double[model.Nodes.Count];
        CollectConstants();
        Image = model.Inputs.FirstOrDefault(i => model.LastUseOf(i.Name) >= 0 && inputShapes.TryGetValue(i.Name, out var s) && s.Length == 4)?.Name;
        PrefixEnd = model.Nodes.Count;
        if (Image is null)
        {
            PrefixEnd = 0;
            PrefixEndReason = "the model has no 4-D (NCHW) image input to cut into tiles";
        }
        else
        {
            _maps[Image] = inputShapes[Image];
            Walk();
        }
        JudgeCuts();
        TileableCuts = [.. Enumerable.Range(0, _cutReasons.Length).Where(c => _cutReasons[c] is null)];
    }

    public OnnxModel Model { get; }

    /// <summary>The input the tiles slice, or null when the model has no 4-D input.</summary>
    public string? Image { get; }

    /// <summary>Position of the first node that breaks spatial independence; <c>Nodes.Count</c> when none does.</summary>
    public int PrefixEnd { get; private set; }

    /// <summary>What the node at <see cref="PrefixEnd"/> does that tiles cannot; null when the whole model is tileable.</summary>
    public string? PrefixEndReason { get; private set; }

    /// <summary>Every cut whose prefix can be tiled, ascending.</summary>
    public IReadOnlyList<int> TileableCuts { get; }

    /// <summary>Analyses <paramref name="model"/> for concrete input shapes (symbolic dimensions resolved).</summary>
    public static SpatialAnalysis Analyse(OnnxModel model, IReadOnlyDictionary<string, long[]> inputShapes) => new(model, inputShapes);

    /// <summary>Null when <paramref name="cut"/> is tileable, else why not, in one sentence.</summary>
    public string? WhyNotTileable(int cut)
    {
        if (cut < 0 || cut >= _cutReasons.Length)
        {
            return $"there is no cut {cut}; '{Model.DisplayName}' has cuts 0..{_cutReasons.Length - 1}";
        }
        return _cutReasons[cut];
    }

    /// <summary>FLOPs of the convolutions and pools of nodes 0..<paramref name="cut"/> run on the whole image.</summary>
    public double PrefixFlops(int cut) => _prefixFlops[cut];

    /// <summary>NCHW shape of a feature map of the prefix; null for anything else.</summary>
    public long[]? SpatialShape(string tensor) => _maps.GetValueOrDefault(tensor);

    internal SpatialNode? NodeAt(int position) => _nodes[position];

    /// <summary>True for initializers, constants and what nodes compute from them alone.</summary>
    internal bool IsStatic(string tensor) => _static.Contains(tensor);

    internal long[]? StaticShape(string tensor) => _staticShapes.GetValueOrDefault(tensor);

    /// <summary>The values of a constant int64 tensor (an initializer or a Constant node), or null.</summary>
    internal long[]? StaticInt64s(string tensor)
    {
        TensorProto? t = Model.Initializers.GetValueOrDefault(tensor);
        if (t is null && Model.ConstantNodes.TryGetValue(tensor, out var node))
        {
            var value = node.Attribute.FirstOrDefault(a => a.Name is "value" or "value_ints");
            if (value?.Name == "value_ints")
            {
                return [.. value.Ints];
            }
            t = value?.T;
        }
        if (t is null || t.DataType != (int)TensorProto.Types.DataType.Int64)
        {
            return null;
        }
        return t.RawData.IsEmpty ? [.. t.Int64Data] : MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray();
    }

    private void CollectConstants()
    {
        foreach (var (name, tensor) in Model.Initializers)
        {
            _static.Add(name);
            _staticShapes[name] = [.. tensor.Dims];
        }
        _static.UnionWith(Model.SparseInitializerNames);
        foreach (var (name, node) in Model.ConstantNodes)
        {
            _static.Add(name);
            var attr = node.Attribute.FirstOrDefault();
            long[]? shape = attr?.Name switch
            {
                "value" when attr.T is not null => [.. attr.T.Dims],
                "value_float" or "value_int" => [],
                "value_floats" => [attr.Floats.Count],
                "value_ints" => [attr.Ints.Count],
                _ => null,
            };
            if (shape is not null)
            {
                _staticShapes[name] = shape;
            }
        }
    }

    private void Walk()
    {
        double flops = 0;
        for (var p = 0; p < Model.Nodes.Count; p++)
        {
            var node = Model.Nodes[p];
            var inputs = Model.InputsOf(p);
            if (inputs.All(_static.Contains) && !Random.Contains(node.OpType))
            {
                MarkStatic(node, inputs);
                _prefixFlops[p] = flops;
                continue;
            }
            try
            {
                if (inputs.FirstOrDefault(i => !_static.Contains(i) && !_maps.ContainsKey(i) && Model.ProducerOf(i) < 0) is { } other)
                {
                    throw new UntileableNodeException($"reads the input '{other}', and a tile group slices only the image '{Image}'");
                }
                if (Random.Contains(node.OpType))
                {
                    throw new UntileableNodeException("draws random numbers, which tiles would draw differently");
                }
                var spatial = SpatialRules.Describe(node, p, this);
                _nodes[p] = spatial;
                for (var k = 0; k < node.Output.Count; k++)
                {
                    if (spatial.OutputShapes[k] is { } shape)
                    {
                        _maps[node.Output[k]] = shape;
                    }
                }
                flops += spatial.FlopsPerPixel * spatial.OutputHeight * spatial.OutputWidth;
                _prefixFlops[p] = flops;
            }
            catch (UntileableNodeException ex)
            {
                PrefixEnd = p;
                PrefixEndReason = $"node {p} '{OnnxModel.NodeLabel(node, p)}' ({node.OpType}) {ex.Message}";
                return;
            }
        }
    }

    /// <summary>A node of constants only: its outputs are constants too, of a shape known for elementwise ops.</summary>
    private void MarkStatic(NodeProto node, IReadOnlyList<string> inputs)
    {
        long[]? shape = null;
        if (node.Output.Count == 1 && inputs.Count > 0 && inputs.All(_staticShapes.ContainsKey) && SpatialRules.IsElementwise(node.OpType))
        {
            var rank = inputs.Max(i => _staticShapes[i].Length);
            shape = new long[rank];
            Array.Fill(shape, 1L);
            foreach (var dims in inputs.Select(i => _staticShapes[i]))
            {
                for (var d = 0; d < dims.Length; d++)
                {
                    shape[rank - dims.Length + d] = Math.Max(shape[rank - dims.Length + d], dims[d]);
                }
            }
        }
        foreach (var output in node.Output.Where(o => o.Length > 0))
        {
            _static.Add(output);
            if (shape is not null)
            {
                _staticShapes[output] = shape;
            }
        }
    }

    private void JudgeCuts()
    {
        for (var c = 0; c < _cutReasons.Length; c++)
        {
            if (c >= PrefixEnd)
            {
                _cutReasons[c] = $"the tileable prefix ends before it: {PrefixEndReason}";
                continue;
            }
            var live = Model.Cuts[c].Tensors;
            if (live.FirstOrDefault(t => !_maps.ContainsKey(t) && !_static.Contains(t)) is { } other)
            {
                _cutReasons[c] = $"'{other}' is alive across it and is not a feature map of the image";
            }
            else if (!live.Any(_maps.ContainsKey))
            {
                _cutReasons[c] = "no feature map of the image is alive across it";
            }
        }
    }
}
