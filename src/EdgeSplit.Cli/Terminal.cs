using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;

namespace EdgeSplit.Cli;

/// <summary>
/// Where output goes: tables and results on stdout, progress and logs on stderr, so that
/// <c>--json</c> leaves exactly one JSON document on stdout.
/// </summary>
public static class Terminal
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Standard output. Piped or redirected, tables are laid out 200 columns wide rather than Spectre's default 80, so a
    /// file or a pipe gets whole device names and figures instead of cells cut to "devi…".
    /// </summary>
    public static IAnsiConsole Out { get; } = Wide(AnsiConsole.Console);

    private static IAnsiConsole Wide(IAnsiConsole console)
    {
        if (Console.IsOutputRedirected)
        {
            console.Profile.Width = Math.Max(console.Profile.Width, 200);
        }
        return console;
    }

    public static IAnsiConsole Err { get; } = AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Error),
    });

    public static void WriteJson<T>(T document) => Console.Out.WriteLine(JsonSerializer.Serialize(document, JsonOptions));

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1 << 20 => $"{bytes / (double)(1 << 20):F2} MB",
        >= 1 << 10 => $"{bytes / (double)(1 << 10):F1} KB",
        _ => $"{bytes} B",
    };
}
