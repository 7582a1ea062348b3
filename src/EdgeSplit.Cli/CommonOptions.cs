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

    public static Option<bool> Json() => new("--json")
    {
        Description = "Print one JSON document on stdout and nothing else there.",
    };
}
