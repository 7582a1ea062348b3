using Microsoft.ML.OnnxRuntime;

namespace EdgeSplit.Runtime;

/// <summary>
/// The one place ONNX Runtime sessions are configured, so every process on a small board uses
/// an explicit thread count and no spinning threads (spinning would make CPU monitoring lie).
/// </summary>
public static class OrtSessions
{
    /// <summary>Session options with <paramref name="intraOpThreads"/> threads and spinning off.</summary>
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

    /// <summary>Creates a session from serialized ONNX bytes with <see cref="CreateOptions"/>.</summary>
    public static InferenceSession Create(byte[] onnxModel, int intraOpThreads = 1, bool optimize = true)
    {
        using var options = CreateOptions(intraOpThreads, optimize);
        return new InferenceSession(onnxModel, options);
    }
}
