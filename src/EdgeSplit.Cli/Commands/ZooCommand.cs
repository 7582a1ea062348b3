using System.CommandLine;

namespace EdgeSplit.Cli.Commands;

internal static class ZooCommand
{
    public static Command Create()
    {
        var command = new Command("zoo", "Not implemented yet.");
        CommandRunner.SetAction(command, (_, _) => throw new EdgeSplit.Graph.BadInputException("'zoo' is not implemented yet"));
        return command;
    }
}
