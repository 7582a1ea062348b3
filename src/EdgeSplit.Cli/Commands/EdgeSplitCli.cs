using System.CommandLine;

namespace EdgeSplit.Cli.Commands;

/// <summary>Builds the command tree and runs it with EdgeSplit's exit-code conventions.</summary>
public static class EdgeSplitCli
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("EdgeSplit: run one DNN across several edge devices and re-partition it while it serves.");
        root.Options.Add(CommonOptions.Verbose);
        root.Options.Add(CommonOptions.OrtLibrary);
        foreach (var command in CommandCatalog.All())
        {
            root.Subcommands.Add(command);
        }
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = BuildRoot();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // System.CommandLine would print usage and return 1; our convention is one line and 2.
            Console.Error.WriteLine($"error: {parse.Errors[0].Message} (see 'edgesplit {string.Join(' ', CommandPath(parse))} --help')");
            return ExitCodes.BadInput;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    private static IEnumerable<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            if (result.Command is not RootCommand)
            {
                names.Insert(0, result.Command.Name);
            }
        }
        return names;
    }
}
