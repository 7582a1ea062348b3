using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Transport;
using Microsoft.Extensions.Logging;

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

    /// <summary>Claims the right to probe now; false while another probe of this agent runs.</summary>
    public bool BeginProbe() => Interlocked.Exchange(ref _probing, 1) == 0;

    public void EndProbe() => Volatile.Write(ref _probing, 0);

    /// <summary>Claims the right to a stall probe now (apart from the periodic one, which may be waiting out a longer deadline).</summary>
    public bool BeginSuspect() => Interlocked.Exchange(ref _suspecting, 1) == 0;

    public void EndSuspect() => Volatile.Write(ref _suspecting, 0);
}

/// <summary>
/// Membership of the cluster: health probes (periodic, and at once for the devices of a stalled
/// request), the agents' Metrics streams, and who is alive. <see cref="Changed"/> fires when a device
/// goes down or comes back.
/// </summary>
internal sealed class AgentHealth : IAsyncDisposable
{
    private readonly CoordinatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private volatile bool _started;

    public AgentHealth(IReadOnlyList<AgentEndpoint> agents, GrpcChannels channels, CoordinatorOptions options, ILogger logger)
    {
        _options = options;
        _time = options.TimeProvider;
        _logger = logger;
        Members = agents.ToDictionary(a => a.Name, a => new AgentMember(a.Name, a.Address, new AgentConnection(channels.For(a.Address), a.Name, _time)), StringComparer.Ordinal);
    }

    public IReadOnlyDictionary<string, AgentMember> Members { get; }

    /// <summary>A device went down or came back (its name, and whether it is alive now).</summary>
    public event Action<string, bool>? Changed;

    /// <summary>A metrics sample arrived.</summary>
    public event Action? Sampled;

    public bool IsAlive(string device) => Members.TryGetValue(device, out var m) && m.Alive;

    public IReadOnlyList<string> Live => [.. Members.Values.Where(m => m.Alive).Select(m => m.Name)];

    public IReadOnlyList<AgentSnapshot> Snapshot() =>
        [.. Members.Values.Select(a => new AgentSnapshot(a.Name, a.Address, a.Alive, Interlocked.Read(ref a.MemoryAvailableBytes), a.Latest))];

    /// <summary>Probes every agent with the long first-probe deadline, then starts the periodic probes and (if asked) the metrics streams.</summary>
    public async Task StartAsync(TimeSpan? metricsInterval, CancellationToken ct)
    {
        await Task.WhenAll(Members.Values.Select(a => ProbeAsync(a, _options.FirstProbeTimeout, suspect: false, ct)));
        _started = true;
        if (metricsInterval is { } period && period > TimeSpan.Zero)
        {
            foreach (var member in Members.Values)
            {
                _loops.Add(Task.Run(() => MetricsLoopAsync(member, period, _stop.Token), CancellationToken.None));
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
        if (guarded && !member.BeginProbe())
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
            else if (member.Alive || ++member.ConsecutiveAnswers >= 2 || !_started)
            {
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
        var peers = Members.Values.Where(a => a != member).ToList();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var sample in member.Connection.MetricsAsync(interval, [.. peers.Select(p => p.Address)], [.. peers.Select(p => p.Name)], ct))
                {
                    member.Latest = sample;
                    Sampled?.Invoke();
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
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
        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Not disposed: requests still finishing may read its token; it holds no timer.
    }
}
