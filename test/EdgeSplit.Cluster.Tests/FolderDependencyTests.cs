using EdgeSplit.Tests;

namespace EdgeSplit.Cluster.Tests;

public sealed class FolderDependencyTests
{
    [Fact]
    public void No_folder_of_the_cluster_project_depends_on_one_that_depends_back_on_it()
    {
        var graph = FolderDependencies.Of(typeof(Coordinator.CoordinatorHost).Assembly.Location, "EdgeSplit.Cluster");

        Assert.Null(FolderDependencies.FindCycle(graph));
        // The shape DESIGN.md asks for: agent and coordinator never use each other; proto types stay in Transport and the gRPC edge.
        Assert.DoesNotContain("EdgeSplit.Cluster.Coordinator", graph["EdgeSplit.Cluster.Agent"]);
        Assert.DoesNotContain("EdgeSplit.Cluster.Agent", graph["EdgeSplit.Cluster.Coordinator"]);
        Assert.Empty(graph["EdgeSplit.Cluster.Contracts"]);
    }
}
