using System.CommandLine;

namespace EdgeSplit.Cli.Commands;

internal static class RunCommand
{
    public static Command Create()
    {
        var command = new Command("run", "Not implemented yet.");
        CommandRunner.SetAction(command, (_, _) => throw new EdgeSplit.Graph.BadInputException("'run' is not implemented yet"));
        return command;
    }
}
