using System.CommandLine;
using EdgeSplit.Runtime.Providers;

namespace EdgeSplit.Cli;

/// <summary>
/// <c>--provider</c>, <c>--provider-option</c> and <c>--provider-fallback</c>, spelled the same in
/// every command that creates ONNX Runtime sessions (run, verify, agent).
/// </summary>
public sealed class ProviderOptions
{
    public Option<string> Provider { get; } = new("--provider")
    {
        Description = "ONNX Runtime execution provider: cpu, cuda, tensorrt, or any other EP by name (xnnpack, openvino...).",
        DefaultValueFactory = _ => "cpu",
    };

    public Option<string[]> ProviderOption { get; } = new("--provider-option")
    {
        Description = "KEY=VALUE option of the provider, ONNX Runtime's own keys (device_id=0, trt_fp16_enable=1); repeatable.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<bool> Fallback { get; } = new("--provider-fallback")
    {
        Description = "Run on the CPU, with a warning, when the provider is missing or cannot start, instead of failing.",
    };

    /// <summary>Adds the three options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Provider);
        command.Options.Add(ProviderOption);
        command.Options.Add(Fallback);
    }

    public ProviderChoice Parse(ParseResult parse) =>
        new(ExecutionProvider.Parse(parse.GetValue(Provider)!, parse.GetValue(ProviderOption)), parse.GetValue(Fallback));

    /// <summary>The stderr line that says a session fell back to the CPU, or null when none did.</summary>
    public static string? FallbackWarning(ProviderUse used) =>
        used.FellBack ? $"warning: running on {used.Used}, not {used.Requested}: {used.FallbackReason}" : null;
}
