using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Tests;
using Grpc.Core;
using Grpc.Health.V1;

namespace EdgeSplit.Cluster.Tests.Transport;

/// <summary>--health-listen: grpc.health.v1 alone, without token, on its own port; the main port still asks for the token.</summary>
public sealed class HealthListenerTests
{
    private const string Token = "fleet-secret";

    [Fact]
    public async Task The_health_port_answers_without_the_token_and_serves_nothing_else_while_the_main_port_still_asks_for_it()
    {
        var cache = Directory.CreateTempSubdirectory("edgesplit-health-tests-").FullName;
        try
        {
            await using var agent = await AgentHost.StartAsync(new AgentOptions("dev0") { CacheDirectory = cache, Token = Token, HealthListen = "127.0.0.1:0" });
            Assert.NotNull(agent.HealthAddress);
            Assert.NotEqual(agent.Address, agent.HealthAddress);
            var (healthChannel, healthPort) = GrpcChannels.Open(agent.HealthAddress!, token: null);
            using var _ = healthChannel;
            var reply = await new Health.HealthClient(healthPort).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);

            // Nothing but health on that port, not even with a valid-looking call.
            var ping = await Assert.ThrowsAsync<RpcException>(async () =>
                await new Protos.Agent.AgentClient(healthPort).PingAsync(new Protos.PingRequest(), deadline: DateTime.UtcNow.AddSeconds(10)));
            Assert.Equal(StatusCode.Unimplemented, ping.StatusCode);

            var (mainChannel, mainPort) = GrpcChannels.Open(agent.Address, token: null);
            using var __ = mainChannel;
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
                await new Health.HealthClient(mainPort).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10)));
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public async Task The_coordinator_serves_health_without_the_token_on_its_health_port()
    {
        var cache = Directory.CreateTempSubdirectory("edgesplit-health-tests-").FullName;
        try
        {
            await using var agent = await AgentHost.StartAsync(new AgentOptions("dev0") { CacheDirectory = cache, Token = Token });
            var model = SmallModels.Residual();
            await using var coordinator = await CoordinatorHost.StartAsync(OnnxServing.Create(Graph.OnnxModel.Parse(model, "test"), "test"),
                [new AgentEndpoint("dev0", agent.Address)], new EvenComputePlanSource(), new CoordinatorOptions { Token = Token, HealthListen = "127.0.0.1:0" });
            var (channel, invoker) = GrpcChannels.Open(coordinator.HealthAddress!, token: null);
            using var _ = channel;
            var reply = await new Health.HealthClient(invoker).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
            var status = await Assert.ThrowsAsync<RpcException>(async () =>
                await new Protos.Coordinator.CoordinatorClient(invoker).StatusAsync(new Protos.StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10)));
            Assert.Equal(StatusCode.Unimplemented, status.StatusCode);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }
}
