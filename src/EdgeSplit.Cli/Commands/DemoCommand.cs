using System.CommandLine;

namespace EdgeSplit.Cli.Commands;

internal static class DemoCommand
{
    public static Command Create()
    {
        var command = new Command("demo", "Not implemented yet.");
        CommandRunner.SetAction(command, (_, _) => throw new EdgeSplit.Graph.BadInputException("'demo' is not implemented yet"));
        return command;
    }
}
