using EdgeSplit.Cluster.Contracts;
using Grpc.Core;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Transport;

/// <summary>The coordinator as a last hop sees it: where results (or a hop's error) are delivered.</summary>
public sealed class CoordinatorConnection(CallInvoker invoker, TimeProvider time)
{
    private readonly Proto.Coordinator.CoordinatorClient _client = new(invoker);

    public Task DeliverAsync(Delivery delivery, TimeSpan timeout, CancellationToken ct) =>
        CallAsync("Deliver", timeout, ct, async token => await _client.DeliverAsync(WireMapping.ToProto(delivery), cancellationToken: token));

    /// <summary>Joins (or sends the heartbeat, or leaves); returns how long the coordinator waits for the next heartbeat.</summary>
    public Task<TimeSpan> JoinAsync(JoinNotice notice, TimeSpan timeout, CancellationToken ct) =>
        CallAsync(notice.Leaving ? "Leave" : "Join", timeout, ct, async token =>
            TimeSpan.FromMilliseconds((await _client.JoinAsync(WireMapping.ToProto(notice), cancellationToken: token)).HeartbeatTimeoutMs));

    private async Task<T> CallAsync<T>(string what, TimeSpan timeout, CancellationToken ct, Func<CancellationToken, Task<T>> call)
    {
        using var scope = new TimeoutScope(time, timeout, ct);
        try
        {
            return await call(scope.Token);
        }
        catch (RpcException ex) when (!ct.IsCancellationRequested)
        {
            throw StatusInterceptor.FromRpc(ex, what);
        }
    }
}
