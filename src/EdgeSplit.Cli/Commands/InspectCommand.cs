using System.CommandLine;

namespace EdgeSplit.Cli.Commands;

internal static class InspectCommand
{
    public static Command Create()
    {
        var command = new Command("inspect", "Not implemented yet.");
        CommandRunner.SetAction(command, (_, _) => throw new EdgeSplit.Graph.BadInputException("'inspect' is not implemented yet"));
        return command;
    }
}
