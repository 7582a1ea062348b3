using Onnx;

namespace EdgeSplit.Graph;

/// <summary>
/// Counts a model's parameters the way PyTorch's <c>sum(p.numel() for p in model.parameters())</c>
/// does, from the ONNX file alone. The rule, applied to every initializer the graph's nodes consume
/// (each counted once, by name, so shared weights count once):
/// <list type="number">
/// <item>Only floating-point tensors count; integer tensors are shapes, axes and indices.</item>
/// <item>BatchNormalization's inputs 3 and 4 (running mean and variance) never count: PyTorch keeps them as buffers.</item>
/// <item>A single-element tensor counts only when it feeds a weight slot (see below); elsewhere it is an
///   operator argument written as a tensor (Clip's bounds, an epsilon, a Pow exponent, a scale factor).</item>
/// </list>
/// Weight slots are the learned operands of the layers that own parameters: inputs 1 and 2 of Conv,
/// ConvTranspose, Gemm, BatchNormalization, InstanceNormalization and LayerNormalization, input 1 of
/// MatMul and PRelu. Constant nodes are never counted; subgraphs (If/Loop bodies) are not walked.
/// Known limit: a multi-element float constant that is not a weight (an exported attention mask,
/// a positional table registered as a buffer) counts, since an ONNX file cannot tell it apart from one.
/// </summary>
public static class ParameterCounter
{
    private static readonly Dictionary<string, int[]> WeightSlots = new(StringComparer.Ordinal)
    {
        ["Conv"] = [1, 2],
        ["ConvTranspose"] = [1, 2],
        ["Gemm"] = [1, 2],
        ["BatchNormalization"] = [1, 2],
        ["InstanceNormalization"] = [1, 2],
        ["LayerNormalization"] = [1, 2],
        ["MatMul"] = [1],
        ["PRelu"] = [1],
    };

    /// <summary>The number of learned parameters in <paramref name="model"/> (rule in the type summary).</summary>
    public static long Count(ModelProto model) => Parameters(model).Values.Sum();

    /// <summary>Each initializer that is a parameter, with its element count (rule in the type summary).</summary>
    public static IReadOnlyDictionary<string, long> Parameters(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph ?? throw new ArgumentException("The model has no graph.", nameof(model));
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var tensor in graph.Initializer)
        {
            initializers[tensor.Name] = tensor;
        }

        var runningStatistics = new HashSet<string>(StringComparer.Ordinal);
        var atWeightSlot = new HashSet<string>(StringComparer.Ordinal);
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                var name = node.Input[i];
                if (name.Length == 0 || !initializers.ContainsKey(name))
                {
                    continue;
                }
                consumed.Add(name);
                if (node.OpType == "BatchNormalization" && node.Domain.Length == 0 && i is 3 or 4)
                {
                    runningStatistics.Add(name);
                }
                else if (node.Domain.Length == 0 && WeightSlots.TryGetValue(node.OpType, out var slots) && slots.Contains(i))
                {
                    atWeightSlot.Add(name);
                }
            }
        }

        var parameters = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var name in consumed)
        {
            var tensor = initializers[name];
            if (!IsFloatingPoint(tensor.DataType) || runningStatistics.Contains(name))
            {
                continue;
            }
            var elements = ElementCount(tensor);
            if (elements > 1 || atWeightSlot.Contains(name))
            {
                parameters[name] = elements;
            }
        }
        return parameters;
    }

    private static long ElementCount(TensorProto tensor)
    {
        long count = 1;
        foreach (var dim in tensor.Dims)
        {
            count *= dim;
        }
        return count;
    }

    private static bool IsFloatingPoint(int dataType) => (TensorProto.Types.DataType)dataType is
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Float16 or
        TensorProto.Types.DataType.Bfloat16;
}
