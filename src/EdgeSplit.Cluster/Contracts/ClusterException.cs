namespace EdgeSplit.Cluster.Contracts;

/// <summary>What went wrong, in the cluster's own words; the transport edge turns each kind into a gRPC status.</summary>
public enum FailureKind
{
    /// <summary>The request itself is wrong (a shape, an address, a name): sending it again will not help.</summary>
    BadRequest,

    /// <summary>Not possible in the current state (nothing deployed, no plan fits): may work later.</summary>
    NotReady,

    /// <summary>A device could not be reached (connection refused, reset, not serving).</summary>
    Unreachable,

    /// <summary>A device did not answer within the deadline (it may be hung, or just slow).</summary>
    TimedOut,

    /// <summary>Bytes do not hash to what they claim (an upload or a cached partition).</summary>
    Corrupt,

    /// <summary>The caller lacks the cluster's token.</summary>
    Unauthenticated,
}

/// <summary>A failure of the agent or coordinator domain; the transport edge maps <see cref="Kind"/> to a gRPC status.</summary>
public class ClusterException(FailureKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public FailureKind Kind { get; } = kind;

    /// <summary>The device whose call failed, when one did.</summary>
    public string? Device { get; init; }
}
