using EdgeSplit.Runtime.Providers;
using Microsoft.ML.OnnxRuntime;

namespace EdgeSplit.Runtime;

/// <summary>
/// The one place ONNX Runtime sessions are configured, so every process on a small board uses
/// an explicit thread count and no spinning threads (spinning would make CPU monitoring lie),
/// and the execution provider chosen for it.
/// </summary>
public static class OrtSessions
{
    /// <summary>Session options with <paramref name="intraOpThreads"/> threads and spinning off, on the CPU.</summary>
    public static SessionOptions CreateOptions(int intraOpThreads = 1, bool optimize = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(intraOpThreads, 1);
        var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        options.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
        return options;
    }

    /// <summary>
    /// <see cref="CreateOptions(int, bool)"/> with <paramref name="choice"/>'s provider appended;
    /// when that provider is unavailable and the choice allows it, CPU options, with the reason in
    /// <paramref name="used"/>.
    /// </summary>
    /// <exception cref="ProviderUnavailableException">The provider is unavailable and no fallback was allowed.</exception>
    public static SessionOptions CreateOptions(int intraOpThreads, bool optimize, ProviderChoice choice, out ProviderUse used)
    {
        var options = CreateOptions(intraOpThreads, optimize);
        try
        {
            ExecutionProviders.Append(options, choice.Provider);
            used = new ProviderUse(choice.Provider.Name, choice.Provider.Name);
            return options;
        }
        catch (ProviderUnavailableException ex) when (choice.FallbackToCpu)
        {
            // A failed append may leave part of a provider (TensorRT without its CUDA) registered: start afresh.
            options.Dispose();
            used = new ProviderUse(choice.Provider.Name, "cpu", ex.Reason);
            return CreateOptions(intraOpThreads, optimize);
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    /// <summary>Creates a CPU session from serialized ONNX bytes with <see cref="CreateOptions(int, bool)"/>.</summary>
    public static InferenceSession Create(byte[] onnxModel, int intraOpThreads = 1, bool optimize = true)
    {
        using var options = CreateOptions(intraOpThreads, optimize);
        return new InferenceSession(onnxModel, options);
    }

    /// <summary>
    /// Creates a session on <paramref name="choice"/>'s provider; <paramref name="used"/> records
    /// the provider it really runs on. A provider that registers but cannot build a session for
    /// this model (no device, a missing CUDA library, a TensorRT engine that fails) falls back to
    /// the CPU when the choice allows it. <paramref name="configure"/> adjusts the options last
    /// (e.g. to turn profiling on).
    /// </summary>
    /// <exception cref="ProviderUnavailableException">The provider cannot be used and no fallback was allowed.</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime rejects the model itself.</exception>
    public static InferenceSession Create(byte[] onnxModel, int intraOpThreads, ProviderChoice choice, out ProviderUse used,
        bool optimize = true, Action<SessionOptions>? configure = null)
    {
        using (var options = CreateOptions(intraOpThreads, optimize, choice, out used))
        {
            configure?.Invoke(options);
            try
            {
                return new InferenceSession(onnxModel, options);
            }
            catch (OnnxRuntimeException ex) when (used.Used != "cpu")
            {
                if (!choice.FallbackToCpu)
                {
                    throw new ProviderUnavailableException($"execution provider {choice.Provider} could not create a session: {ExecutionProviders.OneLine(ex.Message)}", ex);
                }
                used = new ProviderUse(choice.Provider.Name, "cpu", ExecutionProviders.OneLine(ex.Message));
            }
        }
        using var cpu = CreateOptions(intraOpThreads, optimize);
        configure?.Invoke(cpu);
        return new InferenceSession(onnxModel, cpu);
    }
}
