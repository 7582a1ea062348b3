using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Graph;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace EdgeSplit.Cluster.Transport;

/// <summary>Maps the domain's exceptions to gRPC statuses at the edge, so services and domain code never build an <see cref="RpcException"/>.</summary>
internal sealed class StatusInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (ToStatus(ex) is { } status)
        {
            throw new RpcException(status);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception ex) when (ToStatus(ex) is { } status)
        {
            throw new RpcException(status);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception ex) when (ToStatus(ex) is { } status)
        {
            throw new RpcException(status);
        }
    }

    /// <summary>The status of a domain failure; null for anything else (a bug, left to gRPC's Internal).</summary>
    public static Status? ToStatus(Exception ex) => ex switch
    {
        ClusterException c => new Status(c.Kind switch
        {
            FailureKind.BadRequest => StatusCode.InvalidArgument,
            FailureKind.NotReady => StatusCode.FailedPrecondition,
            FailureKind.Unreachable => StatusCode.Unavailable,
            FailureKind.TimedOut => StatusCode.DeadlineExceeded,
            FailureKind.Corrupt => StatusCode.DataLoss,
            FailureKind.Unauthenticated => StatusCode.Unauthenticated,
            _ => StatusCode.Unknown,
        }, c.Message),
        BadInputException b => new Status(StatusCode.InvalidArgument, b.Message),
        _ => null,
    };

    /// <summary>The domain's view of a failed call: what kind of failure the peer's status means.</summary>
    public static ClusterException FromRpc(RpcException ex, string what, string? device = null) => new(ex.StatusCode switch
    {
        StatusCode.InvalidArgument or StatusCode.ResourceExhausted or StatusCode.OutOfRange => FailureKind.BadRequest,
        StatusCode.FailedPrecondition or StatusCode.NotFound => FailureKind.NotReady,
        StatusCode.DataLoss => FailureKind.Corrupt,
        StatusCode.Unauthenticated or StatusCode.PermissionDenied => FailureKind.Unauthenticated,
        StatusCode.DeadlineExceeded => FailureKind.TimedOut,
        _ => FailureKind.Unreachable,
    }, $"{what}: {ex.StatusCode} {ex.Status.Detail}", ex) { Device = device };
}
