using Microsoft.ML.OnnxRuntime;

namespace EdgeSplit.Runtime.Providers;

/// <summary>Registers an <see cref="ExecutionProvider"/> on ONNX Runtime session options.</summary>
public static class ExecutionProviders
{
    /// <summary>ONNX Runtime's names of the EPs compiled into the loaded library (<c>CPUExecutionProvider</c>, ...).</summary>
    public static IReadOnlyList<string> Available() => OrtEnv.Instance().GetAvailableProviders();

    /// <summary>
    /// Appends <paramref name="provider"/> to <paramref name="options"/> (ahead of the CPU EP, which
    /// ORT always keeps for the nodes the EP does not take). TensorRT gets CUDA appended after it,
    /// as ONNX Runtime advises, for the nodes TensorRT rejects.
    /// </summary>
    /// <exception cref="ProviderUnavailableException">The loaded ONNX Runtime lacks it, or refused it.</exception>
    public static void Append(SessionOptions options, ExecutionProvider provider)
    {
        if (provider.IsCpu)
        {
            return;
        }
        var available = Available();
        if (provider.OrtName.EndsWith("ExecutionProvider", StringComparison.Ordinal) && !available.Contains(provider.OrtName, StringComparer.Ordinal))
        {
            throw new ProviderUnavailableException(
                $"execution provider {provider.Name} ({provider.OrtName}) is not in the loaded ONNX Runtime {OrtEnv.Instance().GetVersionString()}, which has {string.Join(", ", available)}");
        }
        try
        {
            switch (provider.Name)
            {
                case "cuda":
                    AppendCuda(options, provider.Options);
                    break;
                case "tensorrt":
                    using (var tensorRt = new OrtTensorRTProviderOptions())
                    {
                        tensorRt.UpdateOptions(new Dictionary<string, string>(provider.Options));
                        options.AppendExecutionProvider_Tensorrt(tensorRt);
                    }
                    AppendCuda(options, provider.Options.TryGetValue("device_id", out var device) ? new Dictionary<string, string> { ["device_id"] = device } : []);
                    break;
                default:
                    options.AppendExecutionProvider(provider.OrtName, new Dictionary<string, string>(provider.Options));
                    break;
            }
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException)
        {
            throw new ProviderUnavailableException($"ONNX Runtime refused execution provider {provider}: {OneLine(ex.Message)}", ex);
        }
    }

    private static void AppendCuda(SessionOptions options, IReadOnlyDictionary<string, string> settings)
    {
        using var cuda = new OrtCUDAProviderOptions();
        cuda.UpdateOptions(new Dictionary<string, string>(settings));
        options.AppendExecutionProvider_CUDA(cuda);
    }

    internal static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
