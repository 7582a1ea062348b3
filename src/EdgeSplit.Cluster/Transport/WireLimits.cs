namespace EdgeSplit.Cluster.Transport;

/// <summary>Message and flow-control sizes shared by every server and client, sized for multi-MB feature maps.</summary>
public static class WireLimits
{
    /// <summary>Largest gRPC message accepted or sent (bigger ones get ResourceExhausted).</summary>
    public const int DefaultMaxMessageBytes = 64 * 1024 * 1024;

    /// <summary>HTTP/2 stream window: a 3 MB tensor should not stall on WINDOW_UPDATE round trips.</summary>
    public const int StreamWindowBytes = 16 * 1024 * 1024;

    /// <summary>HTTP/2 connection window, several streams' worth.</summary>
    public const int ConnectionWindowBytes = 64 * 1024 * 1024;

    /// <summary>Chunk size for partition uploads.</summary>
    public const int PartitionChunkBytes = 1024 * 1024;

    /// <summary>The metadata key carrying the shared token.</summary>
    public const string TokenHeader = "authorization";
}
