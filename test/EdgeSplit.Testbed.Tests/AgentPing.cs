using System.Diagnostics;

namespace EdgeSplit.Testbed.Tests;

/// <summary>Asks a real agent for a Ping until it answers or time is up.</summary>
internal static class AgentPing
{
    public static async Task<bool> AnswersWithinAsync(string address, TimeSpan within)
    {
        var (channel, invoker) = EdgeSplit.Cluster.Transport.GrpcChannels.Open(address, token: null);
        using var _ = channel;
        var client = new EdgeSplit.Cluster.Protos.Agent.AgentClient(invoker);
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await client.PingAsync(new EdgeSplit.Cluster.Protos.PingRequest(), deadline: DateTime.UtcNow.AddSeconds(1));
                return true;
            }
            catch (Grpc.Core.RpcException) when (waited.Elapsed < within)
            {
                await Task.Delay(100);
            }
            catch (Grpc.Core.RpcException)
            {
                return false;
            }
        }
    }
}
