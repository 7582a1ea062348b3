using System.Collections.Concurrent;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Transport;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Coordinator;

/// <summary>
/// Membership of the cluster: health probes (periodic, and at once for the devices of a stalled
/// request), the agents' Metrics streams, and who is alive. Members are the agents given at start
/// plus those that join on their own (<see cref="Join"/>), which stay while their heartbeats keep
/// coming and go as a dead device goes when they leave or fall silent. <see cref="Changed"/> fires
/// when a device goes down or comes back.
/// </summary>
internal sealed class AgentHealth : IAsyncDisposable
{
    private readonly CoordinatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly ConcurrentDictionary<string, AgentMember> _members;
    private readonly GrpcChannels _channels;
    private readonly Lock _joinGate = new();
    private volatile bool _started;
    private TimeSpan? _metricsInterval;
    private volatile string? _source;
    private long _nextOrder;

    public AgentHealth(IReadOnlyList<AgentEndpoint> agents, GrpcChannels channels, CoordinatorOptions options, ILogger logger)
    {
        _options = options;
        _time = options.TimeProvider;
        _logger = logger;
        _channels = channels;
        _members = new(agents.Select(a => KeyValuePair.Create(a.Name, NewMember(a.Name, a.Address, joined: false))), StringComparer.Ordinal);
        _source = options.SourceDevice ?? agents.FirstOrDefault()?.Name;
    }

    public IReadOnlyDictionary<string, AgentMember> Members => _members;

    /// <summary>The members in the order they were given, then joined (plans list devices in this order).</summary>
    public IReadOnlyList<AgentMember> Ordered => [.. _members.Values.OrderBy(m => m.Order)];

    /// <summary>Where requests enter: the configured source device, else the first agent given, else the first to join.</summary>
    public string SourceDevice => _source ?? "";

    /// <summary>An agent joined, or sent its heartbeat.</summary>
    public event Action? Joined;

    /// <summary>A device went down or came back (its name, and whether it is alive now).</summary>
    public event Action<string, bool>? Changed;

    /// <summary>A metrics sample arrived.</summary>
    public event Action? Sampled;

    public bool IsAlive(string device) => Members.TryGetValue(device, out var m) && m.Alive;

    public IReadOnlyList<string> Live => [.. Ordered.Where(m => m.Alive).Select(m => m.Name)];

    public IReadOnlyList<AgentSnapshot> Snapshot() =>
        [.. Ordered.Select(a => new AgentSnapshot(a.Name, a.Address, a.Alive, Interlocked.Read(ref a.MemoryAvailableBytes), a.Latest))];

    /// <summary>Probes every agent with the long first-probe deadline, then starts the periodic probes and (if asked) the metrics streams.</summary>
    public async Task StartAsync(TimeSpan? metricsInterval, CancellationToken ct)
    {
        await Task.WhenAll(Members.Values.Select(a => ProbeAsync(a, _options.FirstProbeTimeout, suspect: false, ct)));
        lock (_joinGate)
        {
            _started = true;
            if (metricsInterval is { } period && period > TimeSpan.Zero)
            {
                _metricsInterval = period;
                foreach (var member in Members.Values)
                {
                    StartMetrics(member);
                }
            }
        }
        var timer = new PeriodicTimer(_options.HealthInterval, _time);
        _loops.Add(Task.Run(() => HealthLoopAsync(timer, _stop.Token), CancellationToken.None));
    }

    /// <summary>Waits until every live agent has sent a metrics sample, or <paramref name="timeout"/> passed on the coordinator's clock.</summary>
    public async Task WaitForFirstSamplesAsync(TimeSpan timeout, CancellationToken ct)
    {
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            if (Members.Values.All(a => !a.Alive || a.Latest is not null))
            {
                ready.TrySetResult();
            }
        }
        Sampled += Check;
        try
        {
            Check();
            await ready.Task.WaitAsync(timeout, _time, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        finally
        {
            Sampled -= Check;
        }
    }

    /// <summary>
    /// A request on these devices has waited past the stall threshold: probe them now (one probe per device
    /// at a time). A device that misses this probe while another one answers is marked down at once: the
    /// stalled request is the second witness. When none answers, the coordinator's own host is the likelier
    /// culprit (a starved CPU), and the usual rule of two missed probes in a row holds.
    /// </summary>
    public async Task SuspectAsync(IEnumerable<string> devices)
    {
        var members = devices.Distinct().Where(Members.ContainsKey).Select(d => Members[d]).Where(m => m.Alive && m.BeginSuspect()).ToList();
        try
        {
            var outcomes = await Task.WhenAll(members.Select(m => ProbeAsync(m, _options.ProbeTimeout, suspect: false, _stop.Token, guarded: false)));
            if (outcomes.Any(o => o == ProbeOutcome.Answered))
            {
                foreach (var (member, outcome) in members.Zip(outcomes).Where(p => p.Second == ProbeOutcome.TimedOut))
                {
                    SetAlive(member, false, $"no answer within {_options.ProbeTimeout.TotalSeconds:0.###} s while a request on it stalled and another device answered");
                }
            }
        }
        finally
        {
            members.ForEach(m => m.EndSuspect());
        }
    }

    /// <summary>
    /// Until <paramref name="count"/> agents are members (and the configured source device among them):
    /// <c>serve</c> without <c>--agents</c> waits here for agents to join.
    /// </summary>
    public async Task WaitForMembersAsync(int count, CancellationToken ct)
    {
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            var joined = Members.Values.Where(m => !m.Departed).Select(m => m.Name).ToList();
            if (joined.Count >= count && (_options.SourceDevice is null || joined.Contains(_options.SourceDevice)))
            {
                ready.TrySetResult();
            }
        }
        Joined += Check;
        try
        {
            Check();
            await ready.Task.WaitAsync(ct);
        }
        finally
        {
            Joined -= Check;
        }
    }

    /// <summary>
    /// An agent that joins on its own, or its heartbeat. A new name (or a known one at a new address, or back
    /// after leaving) becomes a member that is probed at once and comes up on its first answer; the plan
    /// then grows to include it. A heartbeat from a live member only counts the time.
    /// </summary>
    public void Join(string name, string address)
    {
        DeviceName.Check(name);
        Endpoints.PeerUri(address);
        AgentMember? arrived = null, replaced = null;
        lock (_joinGate)
        {
            var now = _time.GetTimestamp();
            if (_members.TryGetValue(name, out var known) && Endpoints.PeerUri(known.Address) == Endpoints.PeerUri(address))
            {
                Interlocked.Exchange(ref known.LastHeartbeat, now);
                if (known.Departed)
                {
                    known.Departed = false;
                    known.Arriving = true;
                    arrived = known;
                }
            }
            else
            {
                replaced = known;
                arrived = NewMember(name, address, joined: true);
                arrived.Arriving = true;
                arrived.Alive = false;
                arrived.LastHeartbeat = now;
                _members[name] = arrived;
                _source ??= name;
                if (_metricsInterval is not null)
                {
                    StartMetrics(arrived);
                    // The others' streams measure links to the peers they were given: start them again with the newcomer.
                    foreach (var other in _members.Values.Where(m => m != arrived))
                    {
                        other.ResetStream();
                    }
                }
            }
        }
        if (replaced is not null)
        {
            _logger.LogInformation("agent {Name} joins again at {Address} (was {Old})", name, address, replaced.Address);
            replaced.Departed = true;
            replaced.ResetStream();
            if (replaced.Alive)
            {
                replaced.Alive = false;
                Changed?.Invoke(name, false);
            }
        }
        else if (arrived is not null)
        {
            _logger.LogInformation("agent {Name} joins from {Address}", name, address);
        }
        Joined?.Invoke();
        if (arrived is not null && _started)
        {
            _ = Task.Run(() => ProbeAsync(arrived, _options.FirstProbeTimeout, suspect: false, _stop.Token), CancellationToken.None);
        }
    }

    /// <summary>The agent leaves (it says so, or its heartbeats stopped): down as a dead device is, until it joins again.</summary>
    public void Depart(string name, string why)
    {
        if (Members.TryGetValue(name, out var member))
        {
            member.Departed = true;
            member.Arriving = false;
            SetAlive(member, false, why);
        }
    }

    private AgentMember NewMember(string name, string address, bool joined) =>
        new(name, address, new AgentConnection(_channels.For(address), name, _time)) { Joined = joined, Order = Interlocked.Increment(ref _nextOrder) };

    private void StartMetrics(AgentMember member)
    {
        var period = _metricsInterval!.Value;
        _loops.Add(Task.Run(() => MetricsLoopAsync(member, period, _stop.Token), CancellationToken.None));
    }

    /// <summary>Joined agents whose heartbeat is older than the timeout are gone.</summary>
    private void CheckHeartbeats()
    {
        foreach (var member in Members.Values.Where(m => m.Joined && !m.Departed))
        {
            var silent = _time.GetElapsedTime(Interlocked.Read(ref member.LastHeartbeat));
            if (silent > _options.HeartbeatTimeout)
            {
                Depart(member.Name, $"no heartbeat for {silent.TotalSeconds:0.###} s (timeout {_options.HeartbeatTimeout.TotalSeconds:0.###} s)");
            }
        }
    }

    /// <summary>A deploy found the device unreachable.</summary>
    public void MarkDown(string device, string why)
    {
        if (Members.TryGetValue(device, out var member))
        {
            SetAlive(member, false, why);
        }
    }

    private async Task HealthLoopAsync(PeriodicTimer timer, CancellationToken ct)
    {
        using var _ = timer;
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                CheckHeartbeats();
                await Task.WhenAll(Members.Values.Select(a => ProbeAsync(a, _options.ProbeTimeout, suspect: false, ct)));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private enum ProbeOutcome
    {
        Skipped,
        Answered,
        Refused,
        TimedOut,
    }

    private async Task<ProbeOutcome> ProbeAsync(AgentMember member, TimeSpan timeout, bool suspect, CancellationToken ct, bool guarded = true)
    {
        if (member.Departed || (guarded && !member.BeginProbe()))
        {
            return ProbeOutcome.Skipped;
        }
        try
        {
            var probe = await member.Connection.ProbeAsync(timeout, ct);
            member.ConsecutiveTimeouts = 0;
            Interlocked.Exchange(ref member.MemoryAvailableBytes, probe.MemoryAvailableBytes);
            // A device that was down comes back after two answers in a row, so a flickering one does not make plans flap.
            if (!probe.Serving)
            {
                member.ConsecutiveAnswers = 0;
                SetAlive(member, false, "health check says not serving");
            }
            else if (member.Departed)
            {
                // Left while the probe was out: its answer does not bring it back.
            }
            else if (member.Alive || ++member.ConsecutiveAnswers >= 2 || !_started || member.Arriving)
            {
                member.Arriving = false;
                SetAlive(member, true, "answers its health check");
            }
            return probe.Serving ? ProbeOutcome.Answered : ProbeOutcome.Refused;
        }
        catch (ClusterException ex) when (!ct.IsCancellationRequested)
        {
            // A refused connection is certain; one slow answer on a busy device is not, two in a row are.
            var timedOut = ex.Kind == FailureKind.TimedOut;
            member.ConsecutiveAnswers = 0;
            if (!timedOut || suspect || ++member.ConsecutiveTimeouts >= 2)
            {
                SetAlive(member, false, ex.Message);
            }
            return timedOut ? ProbeOutcome.TimedOut : ProbeOutcome.Refused;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return ProbeOutcome.Skipped;
        }
        finally
        {
            if (guarded)
            {
                member.EndProbe();
            }
        }
    }

    private void SetAlive(AgentMember member, bool alive, string why)
    {
        if (member.Alive == alive)
        {
            return;
        }
        member.Alive = alive;
        if (alive)
        {
            _logger.LogInformation("agent {Name} at {Address} is up: {Why}", member.Name, member.Address, why);
        }
        else
        {
            _logger.LogWarning("agent {Name} at {Address} is down: {Why}", member.Name, member.Address, why);
        }
        Changed?.Invoke(member.Name, alive);
    }

    /// <summary>Follows one agent's Metrics stream (links to every other agent), reconnecting after failures.</summary>
    private async Task MetricsLoopAsync(AgentMember member, TimeSpan interval, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested && Members.TryGetValue(member.Name, out var current) && current == member)
        {
            var peers = Members.Values.Where(a => a != member && !a.Departed).ToList();
            // The address this agent reaches each peer at, as its hops send there (a testbed's per-link address):
            // the link it measures is the one its tensors cross, and its passive estimates land on the same key.
            var addresses = peers.Select(p => _options.PeerAddresses?.GetValueOrDefault((member.Name, p.Name)) ?? p.Address).ToList();
            using var stream = CancellationTokenSource.CreateLinkedTokenSource(ct, member.StreamReset.Token);
            try
            {
                await foreach (var sample in member.Connection.MetricsAsync(interval, addresses, [.. peers.Select(p => p.Name)], stream.Token))
                {
                    member.Latest = sample;
                    Sampled?.Invoke();
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                // Reset: membership changed; the next stream names the peers as they are now.
                continue;
            }
            catch (Exception ex) when (ex is ClusterException or Grpc.Core.RpcException && !ct.IsCancellationRequested)
            {
                _logger.LogDebug("metrics stream of {Name}: {Message}", member.Name, ex.Message);
            }
            await Task.Delay(interval, _time, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Task[] loops;
        lock (_joinGate)
        {
            loops = [.. _loops];
        }
        await Task.WhenAll(loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Not disposed: requests still finishing may read its token; it holds no timer.
    }
}
