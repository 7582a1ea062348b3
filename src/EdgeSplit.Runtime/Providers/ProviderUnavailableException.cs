using EdgeSplit.Graph;

namespace EdgeSplit.Runtime.Providers;

/// <summary>
/// The execution provider asked for cannot be used here: the loaded ONNX Runtime lacks it, its
/// libraries (CUDA, cuDNN, TensorRT) or device are missing, or it rejected its options. A
/// <see cref="BadInputException"/>, since the fix is in the command line or the machine's setup.
/// </summary>
public sealed class ProviderUnavailableException : BadInputException
{
    private const string Advice = "; load an ONNX Runtime that has it (--ort-library), or allow falling back to cpu (--provider-fallback)";

    public ProviderUnavailableException(string reason) : base(reason + Advice) => Reason = reason;

    public ProviderUnavailableException(string reason, Exception inner) : base(reason + Advice, inner) => Reason = reason;

    /// <summary>Why, without the advice: what a fallback records.</summary>
    public string Reason { get; }
}
