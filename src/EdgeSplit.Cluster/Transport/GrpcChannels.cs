using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace EdgeSplit.Cluster.Transport;

/// <summary>
/// One long-lived HTTP/2 channel per peer address, with windows and message limits sized for
/// feature maps and the token attached to every call.
/// </summary>
public sealed class GrpcChannels(string? token, int maxMessageBytes = WireLimits.DefaultMaxMessageBytes) : IDisposable
{
    private readonly ConcurrentDictionary<string, (GrpcChannel Channel, CallInvoker Invoker)> _channels = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The call invoker for <paramref name="address"/> (<c>host:port</c> or <c>http://host:port</c>).</summary>
    public CallInvoker For(string address) => _channels.GetOrAdd(Normalize(address), a => Open(a, token, maxMessageBytes)).Invoker;

    /// <summary>Opens a standalone channel; dispose the channel when done.</summary>
    public static (GrpcChannel Channel, CallInvoker Invoker) Open(string address, string? token, int maxMessageBytes = WireLimits.DefaultMaxMessageBytes)
    {
        var handler = new SocketsHttpHandler
        {
            InitialHttp2StreamWindowSize = WireLimits.StreamWindowBytes,
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            UseProxy = false,
        };
        var channel = GrpcChannel.ForAddress(Normalize(address), new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = maxMessageBytes,
            MaxSendMessageSize = maxMessageBytes,
            // Retries are the coordinator's decision (it re-plans first), not the channel's.
            MaxRetryAttempts = 0,
        });
        var invoker = string.IsNullOrEmpty(token)
            ? channel.CreateCallInvoker()
            : channel.Intercept(metadata =>
            {
                metadata.Add(WireLimits.TokenHeader, "Bearer " + token);
                return metadata;
            });
        return (channel, invoker);
    }

    /// <summary>Turns <c>host:port</c> into an <c>http://</c> URI string.</summary>
    public static string Normalize(string address) =>
        address.Contains("://", StringComparison.Ordinal) ? address.TrimEnd('/') : "http://" + address.TrimEnd('/');

    public void Dispose()
    {
        foreach (var (channel, _) in _channels.Values)
        {
            channel.Dispose();
        }
        _channels.Clear();
    }
}
