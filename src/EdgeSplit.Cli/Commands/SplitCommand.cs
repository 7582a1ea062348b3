using System.CommandLine;

namespace EdgeSplit.Cli.Commands;

internal static class SplitCommand
{
    public static Command Create()
    {
        var command = new Command("split", "Not implemented yet.");
        CommandRunner.SetAction(command, (_, _) => throw new EdgeSplit.Graph.BadInputException("'split' is not implemented yet"));
        return command;
    }
}
