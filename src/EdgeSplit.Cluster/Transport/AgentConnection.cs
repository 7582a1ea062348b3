using System.Runtime.CompilerServices;
using EdgeSplit.Cluster.Contracts;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Transport;

/// <summary>
/// An agent as its callers see it (the coordinator, or the previous agent of a route): every Agent
/// RPC in the cluster's own types. Timeouts run on the injected <see cref="TimeProvider"/>, and a
/// failed call becomes a <see cref="ClusterException"/> (an unreachable device, a refused request).
/// </summary>
public sealed class AgentConnection(CallInvoker invoker, string device, TimeProvider time)
{
    private readonly Proto.Agent.AgentClient _client = new(invoker);

    public string Device { get; } = device;

    public Task<bool> HasPartitionAsync(string sha256, TimeSpan timeout, CancellationToken ct) =>
        CallAsync("HasPartition", timeout, ct, async token => (await _client.HasPartitionAsync(new Proto.PartitionRef { Sha256 = sha256 }, cancellationToken: token)).Cached);

    /// <summary>Uploads a partition in chunks; the first carries the hash and the size the agent checks them against.</summary>
    public Task UploadAsync(string sha256, byte[] bytes, TimeSpan timeout, CancellationToken ct) =>
        CallAsync("LoadPartition", timeout, ct, async token =>
        {
            using var call = _client.LoadPartition(cancellationToken: token);
            for (var offset = 0; offset < bytes.Length; offset += WireLimits.PartitionChunkBytes)
            {
                var length = Math.Min(WireLimits.PartitionChunkBytes, bytes.Length - offset);
                await call.RequestStream.WriteAsync(new Proto.PartitionChunk
                {
                    Sha256 = offset == 0 ? sha256 : "",
                    TotalBytes = offset == 0 ? bytes.Length : 0,
                    Data = UnsafeByteOperations.UnsafeWrap(bytes.AsMemory(offset, length)),
                }, token);
            }
            await call.RequestStream.CompleteAsync();
            await call;
            return true;
        });

    public Task DeployAsync(DeploymentOrder order, TimeSpan timeout, CancellationToken ct) =>
        CallAsync($"deploying v{order.Version}", timeout, ct, async token => await _client.DeployAsync(WireMapping.ToProto(order), cancellationToken: token));

    public Task RetireAsync(long version, TimeSpan timeout, CancellationToken ct) =>
        CallAsync($"retiring v{version}", timeout, ct, async token => await _client.RetireAsync(new Proto.RetireRequest { Version = version }, cancellationToken: token));

    /// <summary>Queues one request's tensors for a hop; returns how long the agent made it wait for queue room (backpressure, not transfer).</summary>
    public Task<TimeSpan> ExecuteAsync(HopRequest request, TimeSpan timeout, CancellationToken ct) =>
        CallAsync("Execute", timeout, ct, async token =>
        {
            var reply = await _client.ExecuteAsync(WireMapping.ToProto(request, UnixMs(time)), cancellationToken: token);
            return TimeSpan.FromMilliseconds(Math.Max(0, reply.WaitMs));
        });

    /// <summary>The size of <paramref name="request"/> on the wire, for passive bandwidth estimates.</summary>
    public static long WireBytes(HopRequest request) => WireMapping.ToProto(request, 0).CalculateSize();

    /// <summary>grpc.health.v1 check plus a Ping for free memory, both within <paramref name="timeout"/>.</summary>
    public Task<ProbeResult> ProbeAsync(TimeSpan timeout, CancellationToken ct) =>
        CallAsync("probe", timeout, ct, async token =>
        {
            var health = await new Health.HealthClient(invoker).CheckAsync(new HealthCheckRequest(), cancellationToken: token);
            var ping = await _client.PingAsync(new Proto.PingRequest(), cancellationToken: token);
            return new ProbeResult(health.Status == HealthCheckResponse.Types.ServingStatus.Serving, ping.MemoryAvailableBytes);
        });

    /// <summary>A Ping carrying <paramref name="paddingBytes"/>; any answer, a refusal included, is a round trip.</summary>
    public async Task<bool> PingAsync(int paddingBytes, TimeSpan timeout, CancellationToken ct)
    {
        var request = new Proto.PingRequest { SentUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds() };
        if (paddingBytes > 0)
        {
            request.Padding = ByteString.CopyFrom(new byte[paddingBytes]);
        }
        using var scope = new TimeoutScope(time, timeout, ct);
        try
        {
            await _client.PingAsync(request, cancellationToken: scope.Token);
            return true;
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
        {
            // The peer answered, only without serving us: the round trip is still a round trip.
            return true;
        }
        catch (RpcException)
        {
            return false;
        }
    }

    /// <summary>The agent's metrics every <paramref name="interval"/>, with links to <paramref name="peers"/> (addresses, their device names beside).</summary>
    public async IAsyncEnumerable<DeviceSample> MetricsAsync(TimeSpan interval, IReadOnlyList<string> peers, IReadOnlyList<string> peerNames, [EnumeratorCancellation] CancellationToken ct)
    {
        var request = new Proto.MetricsRequest { IntervalMs = (int)Math.Max(1, interval.TotalMilliseconds) };
        request.Peers.Add(peers);
        request.PeerNames.Add(peerNames);
        using var call = _client.Metrics(request, cancellationToken: ct);
        var stream = call.ResponseStream;
        while (true)
        {
            bool next;
            try
            {
                next = await stream.MoveNext(ct);
            }
            catch (RpcException ex) when (!ct.IsCancellationRequested)
            {
                throw StatusInterceptor.FromRpc(ex, $"metrics stream of {Device}", Device);
            }
            if (!next)
            {
                yield break;
            }
            yield return WireMapping.FromProto(stream.Current);
        }
    }

    private async Task<T> CallAsync<T>(string what, TimeSpan timeout, CancellationToken ct, Func<CancellationToken, Task<T>> call)
    {
        using var scope = new TimeoutScope(time, timeout, ct);
        try
        {
            return await call(scope.Token);
        }
        catch (RpcException ex) when (!ct.IsCancellationRequested)
        {
            if (scope.TimedOut)
            {
                throw new ClusterException(FailureKind.TimedOut, $"{what} on {Device}: no answer within {timeout.TotalSeconds:0.###} s", ex) { Device = Device };
            }
            throw StatusInterceptor.FromRpc(ex, $"{what} on {Device}", Device);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new ClusterException(FailureKind.TimedOut, $"{what} on {Device}: no answer within {timeout.TotalSeconds:0.###} s", ex) { Device = Device };
        }
    }

    private Task CallAsync(string what, TimeSpan timeout, CancellationToken ct, Func<CancellationToken, Task> call) =>
        CallAsync(what, timeout, ct, async token =>
        {
            await call(token);
            return true;
        });

    /// <summary>Wall clock in fractional ms since the epoch, for one-way transfer times (exact on one host, NTP-close across devices).</summary>
    public static double UnixMs(TimeProvider time) => (time.GetUtcNow() - DateTimeOffset.UnixEpoch).TotalMilliseconds;
}
