using System.CommandLine;

namespace EdgeSplit.Cli;

/// <summary>Options several commands share, so they are spelled the same everywhere.</summary>
public static class CommonOptions
{
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "Print stack traces and debug logs on stderr.",
        Recursive = true,
    };

    /// <summary>The native ONNX Runtime to load instead of the packaged one (JetPack's on a Jetson).</summary>
    public static readonly Option<string?> OrtLibrary = new("--ort-library")
    {
        Description = $"Load this libonnxruntime.so instead of the packaged one (e.g. JetPack's build on a Jetson); default: ${Runtime.Providers.OrtLibrary.EnvironmentVariable}.",
        Recursive = true,
    };

    public static Option<bool> Json() => new("--json")
    {
        Description = "Print one JSON document on stdout and nothing else there.",
    };
}
