using EdgeSplit.Cluster.Contracts;
using Grpc.Core;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Transport;

/// <summary>The coordinator as a last hop sees it: where results (or a hop's error) are delivered.</summary>
public sealed class CoordinatorConnection(CallInvoker invoker, TimeProvider time)
{
    private readonly Proto.Coordinator.CoordinatorClient _client = new(invoker);

    public async Task DeliverAsync(Delivery delivery, TimeSpan timeout, CancellationToken ct)
    {
        using var scope = new TimeoutScope(time, timeout, ct);
        try
        {
            await _client.DeliverAsync(WireMapping.ToProto(delivery), cancellationToken: scope.Token);
        }
        catch (RpcException ex) when (!ct.IsCancellationRequested)
        {
            throw StatusInterceptor.FromRpc(ex, "Deliver");
        }
    }
}
