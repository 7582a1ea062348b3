using EdgeSplit.Graph;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace EdgeSplit.Runtime;

/// <summary>What one tensor looked like in a real run: type, shape and size on the wire.</summary>
public sealed record TensorFacts(string Name, TensorElementType ElementType, long[] Shape, long Bytes);

/// <summary>The measured size of one cut: the sum of the bytes of every tensor alive across it.</summary>
public sealed record CutSize(Cut Cut, long Bytes, IReadOnlyList<TensorFacts> Tensors);

/// <summary>
/// Measures every cut by running the model once in ONNX Runtime with each tensor that crosses a
/// cut exposed as an extra output. Also yields the real element types, which fill in what the
/// static inference cannot know (custom operators).
/// </summary>
public static class CutProfiler
{
    public static IReadOnlyList<CutSize> Measure(OnnxModel model, IReadOnlyList<TensorData> inputs, int intraOpThreads, out IReadOnlyDictionary<string, TensorFacts> facts)
    {
        var exposed = model.Cuts.SelectMany(c => c.Tensors).Concat(model.OutputNames).Distinct(StringComparer.Ordinal).ToList();
        var known = new Dictionary<string, TensorFacts>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            known[input.Name] = new TensorFacts(input.Name, input.ElementType, input.Shape, input.ByteCount);
        }
        var inputNames = new HashSet<string>(model.Inputs.Select(i => i.Name), StringComparer.Ordinal);
        var toExpose = exposed.Where(n => !inputNames.Contains(n)).ToList();

        using (var session = new ModelSession(WithOutputs(model, toExpose), intraOpThreads))
        {
            foreach (var tensor in session.Run(inputs))
            {
                known[tensor.Name] = new TensorFacts(tensor.Name, tensor.ElementType, tensor.Shape, tensor.ByteCount);
            }
        }
        facts = known;
        return [.. model.Cuts.Select(c =>
        {
            var tensors = c.Tensors.Select(t => known[t]).ToList();
            return new CutSize(c, tensors.Sum(t => t.Bytes), tensors);
        })];
    }

    /// <summary>The element types seen in a run, in the form the partitioner takes.</summary>
    public static IReadOnlyDictionary<string, TensorProto.Types.DataType> ElementTypes(IReadOnlyDictionary<string, TensorFacts> facts) =>
        facts.ToDictionary(f => f.Key, f => (TensorProto.Types.DataType)(int)f.Value.ElementType, StringComparer.Ordinal);

    /// <summary>The model with extra graph outputs; tensors are shared with the original, not copied.</summary>
    internal static byte[] WithOutputs(OnnxModel model, IReadOnlyList<string> names)
    {
        var source = model.Proto;
        var graph = new GraphProto { Name = source.Graph.Name };
        graph.Node.AddRange(source.Graph.Node);
        graph.Initializer.AddRange(source.Graph.Initializer);
        graph.SparseInitializer.AddRange(source.Graph.SparseInitializer);
        graph.Input.AddRange(source.Graph.Input);
        graph.ValueInfo.AddRange(source.Graph.ValueInfo);
        var declared = source.Graph.Output.ToDictionary(o => o.Name, StringComparer.Ordinal);
        foreach (var name in names)
        {
            // An untyped output is enough: ONNX Runtime infers its type and shape.
            graph.Output.Add(declared.TryGetValue(name, out var info) ? info : new ValueInfoProto { Name = name });
        }
        var exposed = new ModelProto
        {
            IrVersion = source.IrVersion,
            ProducerName = source.ProducerName,
            Domain = source.Domain,
            Graph = graph,
        };
        exposed.OpsetImport.AddRange(source.OpsetImport);
        exposed.Functions.AddRange(source.Functions);
        return exposed.ToByteArray();
    }
}
