namespace EdgeSplit.Runtime.Providers;

/// <summary>
/// Which execution provider sessions should run on, and whether a provider this machine cannot
/// use (missing from the loaded ONNX Runtime, or failing to start) may fall back to the CPU.
/// </summary>
public sealed record ProviderChoice(ExecutionProvider Provider, bool FallbackToCpu = false)
{
    public static ProviderChoice Cpu { get; } = new(ExecutionProvider.Cpu);

    public override string ToString() => FallbackToCpu && !Provider.IsCpu ? $"{Provider} (else cpu)" : Provider.ToString();
}

/// <summary>
/// The provider one session really runs on: <see cref="Used"/> is <see cref="Requested"/>, or
/// <c>cpu</c> after a fallback, whose cause <see cref="FallbackReason"/> gives. Nodes the chosen
/// EP cannot take still run on ONNX Runtime's CPU EP inside the same session, as ORT always does.
/// </summary>
public sealed record ProviderUse(string Requested, string Used, string? FallbackReason = null)
{
    public static ProviderUse Cpu { get; } = new("cpu", "cpu");

    public bool FellBack => FallbackReason is not null;

    public override string ToString() => FellBack ? $"{Used} (fallback from {Requested}: {FallbackReason})" : Used;
}
