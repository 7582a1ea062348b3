using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Transport;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>One agent as the coordinator tracks it.</summary>
internal sealed class AgentMember(string name, string address, AgentConnection connection)
{
    private int _probing;
    private int _suspecting;

    public string Name { get; } = name;

    public string Address { get; } = address;

    public AgentConnection Connection { get; } = connection;

    public volatile bool Alive = true;

    public long MemoryAvailableBytes;

    public int ConsecutiveTimeouts;

    public int ConsecutiveAnswers;

    public volatile DeviceSample? Latest;

    /// <summary>Position in the membership: the order agents were given in, then the order they joined in.</summary>
    public long Order { get; init; }

    /// <summary>Joined on its own (agent --join): it must keep sending heartbeats to stay a member.</summary>
    public bool Joined { get; init; }

    /// <summary>Joined, and not yet answered a probe: its first answer brings it up (no second one needed).</summary>
    public volatile bool Arriving;

    /// <summary>Left, or missed its heartbeats: down until it joins again, whatever its probes say.</summary>
    public volatile bool Departed;

    /// <summary>When its last heartbeat arrived, on the coordinator's clock.</summary>
    public long LastHeartbeat;

    /// <summary>Cancelled to end its current Metrics stream, so the next one names the peers as they are now.</summary>
    public CancellationTokenSource StreamReset = new();

    /// <summary>Ends its current Metrics stream (a fresh <see cref="StreamReset"/> serves the next).</summary>
    public void ResetStream() => Interlocked.Exchange(ref StreamReset, new CancellationTokenSource()).Cancel();

    /// <summary>Claims the right to probe now; false while another probe of this agent runs.</summary>
    public bool BeginProbe() => Interlocked.Exchange(ref _probing, 1) == 0;

    public void EndProbe() => Volatile.Write(ref _probing, 0);

    /// <summary>Claims the right to a stall probe now (apart from the periodic one, which may be waiting out a longer deadline).</summary>
    public bool BeginSuspect() => Interlocked.Exchange(ref _suspecting, 1) == 0;

    public void EndSuspect() => Volatile.Write(ref _suspecting, 0);
}
