using System.CommandLine;

namespace EdgeSplit.Cli.Commands;

/// <summary>Every top-level command, in the order <c>--help</c> lists them.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return DemoCommand.Create();
        yield return BenchCommand.Create();
        yield return ZooCommand.Create();
        yield return InspectCommand.Create();
        yield return SplitCommand.Create();
        yield return VerifyCommand.Create();
        yield return RunCommand.Create();
        yield return PlanCommand.Create();
        yield return AgentCommand.Create();
        yield return ServeCommand.Create();
        yield return InferCommand.Create();
        yield return TestbedCommand.Create();
        yield return TopCommand.Create();
    }
}
