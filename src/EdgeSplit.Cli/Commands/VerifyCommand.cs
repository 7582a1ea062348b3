using System.CommandLine;

namespace EdgeSplit.Cli.Commands;

internal static class VerifyCommand
{
    public static Command Create()
    {
        var command = new Command("verify", "Not implemented yet.");
        CommandRunner.SetAction(command, (_, _) => throw new EdgeSplit.Graph.BadInputException("'verify' is not implemented yet"));
        return command;
    }
}
