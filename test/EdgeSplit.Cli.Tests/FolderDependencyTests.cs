using EdgeSplit.Tests;

namespace EdgeSplit.Cli.Tests;

public sealed class FolderDependencyTests
{
    [Fact]
    public void The_commands_use_the_shared_helpers_and_never_the_other_way()
    {
        var graph = FolderDependencies.Of(typeof(CommandRunner).Assembly.Location, "EdgeSplit.Cli");

        Assert.Null(FolderDependencies.FindCycle(graph));
        Assert.Contains("EdgeSplit.Cli", graph["EdgeSplit.Cli.Commands"]);
    }
}
