using System.CommandLine;
using EdgeSplit.Graph;

namespace EdgeSplit.Cli;

/// <summary>
/// The cluster's shared secret, given in one of three ways: <c>--token-file PATH</c>, the
/// <c>EDGESPLIT_TOKEN</c> environment variable, or <c>--token</c> (which other users can read in
/// the process list, so it is warned about).
/// </summary>
public sealed class TokenOptions
{
    public const string EnvironmentVariable = "EDGESPLIT_TOKEN";

    public Option<string?> Token { get; } = new("--token") { Description = $"Shared secret on the command line (readable in the process list; prefer --token-file or {EnvironmentVariable})." };

    public Option<FileInfo?> File { get; } = new("--token-file") { Description = "File whose first line is the shared secret." };

    public void AddTo(Command command)
    {
        command.Options.Add(Token);
        command.Options.Add(File);
    }

    /// <summary>The token, or null for none; bad input (both flags, a missing or empty file) throws <see cref="BadInputException"/>.</summary>
    public string? Resolve(ParseResult parse)
    {
        var inline = parse.GetValue(Token);
        var file = parse.GetValue(File);
        if (inline is not null && file is not null)
        {
            throw new BadInputException("give the token once: --token or --token-file, not both");
        }
        if (file is not null)
        {
            if (!file.Exists)
            {
                throw new BadInputException($"--token-file '{file.FullName}' does not exist");
            }
            var line = System.IO.File.ReadLines(file.FullName).FirstOrDefault()?.Trim();
            return string.IsNullOrEmpty(line) ? throw new BadInputException($"--token-file '{file.FullName}' is empty; write the token on its first line") : line;
        }
        if (inline is not null)
        {
            if (inline.Trim().Length == 0)
            {
                throw new BadInputException("--token is empty");
            }
            Console.Error.WriteLine($"warning: --token is readable by other users in the process list; prefer --token-file or {EnvironmentVariable}");
            return inline;
        }
        return Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment.Trim() : null;
    }
}
