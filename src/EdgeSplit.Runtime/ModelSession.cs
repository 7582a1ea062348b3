using EdgeSplit.Runtime.Providers;
using Microsoft.ML.OnnxRuntime;

namespace EdgeSplit.Runtime;

/// <summary>A warm ORT session over one model or partition that runs on <see cref="TensorData"/>.</summary>
public sealed class ModelSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _outputNames;

    /// <param name="onnxModel">Serialized ONNX.</param>
    /// <param name="intraOpThreads">ONNX Runtime's intra-op threads.</param>
    /// <param name="provider">The execution provider; the CPU when null.</param>
    public ModelSession(byte[] onnxModel, int intraOpThreads = 1, ProviderChoice? provider = null)
    {
        try
        {
            _session = OrtSessions.Create(onnxModel, intraOpThreads, provider ?? ProviderChoice.Cpu, out var used);
            Provider = used;
        }
        catch (OnnxRuntimeException ex)
        {
            throw new EdgeSplit.Graph.BadInputException($"ONNX Runtime cannot load the model: {FirstLine(ex.Message)}", ex);
        }
        _outputNames = [.. _session.OutputNames];
        InputNames = [.. _session.InputNames];
    }

    public IReadOnlyList<string> InputNames { get; }

    /// <summary>The execution provider this session really runs on.</summary>
    public ProviderUse Provider { get; }

    public IReadOnlyList<string> OutputNames => _outputNames;

    /// <summary>Runs on the named inputs it needs (extra tensors are ignored) and returns every output.</summary>
    public IReadOnlyList<TensorData> Run(IReadOnlyDictionary<string, TensorData> available)
    {
        var values = new List<OrtValue>(InputNames.Count);
        try
        {
            foreach (var name in InputNames)
            {
                if (!available.TryGetValue(name, out var tensor))
                {
                    throw new InvalidOperationException($"input '{name}' was not provided");
                }
                values.Add(tensor.ToOrtValue());
            }
            using var options = new RunOptions();
            using var outputs = _session.Run(options, InputNames, values, _outputNames);
            var result = new List<TensorData>(_outputNames.Length);
            var i = 0;
            foreach (var output in outputs)
            {
                result.Add(TensorData.FromOrtValue(_outputNames[i++], output));
            }
            return result;
        }
        catch (OnnxRuntimeException ex)
        {
            throw new EdgeSplit.Graph.BadInputException($"ONNX Runtime failed to run the model: {FirstLine(ex.Message)}", ex);
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    public IReadOnlyList<TensorData> Run(IEnumerable<TensorData> inputs) =>
        Run(inputs.ToDictionary(t => t.Name, StringComparer.Ordinal));

    public void Dispose() => _session.Dispose();

    private static string FirstLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
