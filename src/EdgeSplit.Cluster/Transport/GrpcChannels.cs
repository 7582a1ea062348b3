using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace EdgeSplit.Cluster.Transport;

/// <summary>Connection timeouts of a gRPC channel; dilated testbeds multiply them like every other duration.</summary>
public sealed record ChannelTimeouts(TimeSpan Connect, TimeSpan KeepAliveDelay, TimeSpan KeepAliveTimeout)
{
    public static ChannelTimeouts Default { get; } = new(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10));
}

/// <summary>
/// One long-lived HTTP/2 channel per peer address, with windows and message limits sized for
/// feature maps. <see cref="For"/> attaches the token; <see cref="Anonymous"/> never does, for
/// peers nobody configured.
/// </summary>
public sealed class GrpcChannels(string? token, int maxMessageBytes = WireLimits.DefaultMaxMessageBytes, ChannelTimeouts? timeouts = null, TlsSettings? tls = null) : IDisposable
{
    private readonly ConcurrentDictionary<(string Uri, bool Token), (GrpcChannel Channel, CallInvoker Invoker)> _channels = new();
    private readonly ChannelTimeouts _timeouts = timeouts ?? ChannelTimeouts.Default;

    /// <summary>The call invoker for <paramref name="address"/> (<c>host:port</c> or <c>http://host:port</c>), carrying the token.</summary>
    public CallInvoker For(string address) => Get(address, withToken: true);

    /// <summary>The call invoker for <paramref name="address"/> without the token.</summary>
    public CallInvoker Anonymous(string address) => Get(address, withToken: false);

    private CallInvoker Get(string address, bool withToken) =>
        _channels.GetOrAdd((Endpoints.PeerUri(address), withToken), key => Open(key.Uri, key.Token ? token : null, maxMessageBytes, _timeouts, tls)).Invoker;

    /// <summary>
    /// Opens a standalone channel; dispose the channel when done. Throws BadInputException for an address no channel can use.
    /// With <paramref name="tls"/>, the channel speaks HTTPS, checks the server against the fleet CA and presents this side's certificate.
    /// </summary>
    public static (GrpcChannel Channel, CallInvoker Invoker) Open(string address, string? token, int maxMessageBytes = WireLimits.DefaultMaxMessageBytes, ChannelTimeouts? timeouts = null,
        TlsSettings? tls = null)
    {
        var uri = Endpoints.PeerUri(address);
        if (tls is not null)
        {
            uri = "https" + uri["http".Length..];
        }
        var t = timeouts ?? ChannelTimeouts.Default;
        var handler = new SocketsHttpHandler
        {
            InitialHttp2StreamWindowSize = WireLimits.StreamWindowBytes,
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = t.KeepAliveDelay,
            KeepAlivePingTimeout = t.KeepAliveTimeout,
            ConnectTimeout = t.Connect,
            UseProxy = false,
        };
        if (tls is not null)
        {
            handler.SslOptions = tls.ClientOptions();
        }
        var channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions
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

    public void Dispose()
    {
        foreach (var (channel, _) in _channels.Values)
        {
            channel.Dispose();
        }
        _channels.Clear();
    }
}
