using System.CommandLine;
using EdgeSplit.Graph;
using EdgeSplit.Planning;

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

    /// <summary><c>--fps</c> of plan and serve: the camera's frame rate the plan must keep up with.</summary>
    public static Option<double> PlanFps() => new("--fps")
    {
        Description = "Frames per second the camera sends: a plan whose slowest stage or hop cannot keep up ranks after every plan that can (default 0: requests come one after another).",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>
    /// <paramref name="goal"/> at <paramref name="fps"/> frames per second (0: unchanged), its interval on a clock
    /// <paramref name="stretch"/> times slower than the devices' (a dilated testbed's).
    /// </summary>
    public static Objective AtFrameRate(Objective goal, double fps, double stretch = 1) => fps switch
    {
        0 => goal,
        > 0 when double.IsFinite(fps) => goal with { FrameIntervalMs = 1000.0 / fps * stretch },
        _ => throw new BadInputException($"--fps must be a positive number of frames per second, or 0 for none; got {fps}"),
    };
}
