using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Transport;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cluster.Agent;

/// <summary>
/// An agent that joins a coordinator on its own (<c>agent --join</c>): it registers its name, the address
/// others reach it at and its execution provider, repeats the call every <see cref="AgentOptions.HeartbeatInterval"/>
/// as its heartbeat (so a coordinator that restarts learns of it again), and says when it leaves.
/// </summary>
internal sealed class FleetMembership : IAsyncDisposable
{
    private readonly AgentCore _core;
    private readonly string _coordinator;
    private readonly string _address;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private string? _loggedFailure;

    public FleetMembership(AgentCore core, string coordinator, string address)
    {
        Endpoints.PeerUri(coordinator);
        Endpoints.PeerUri(address);
        _core = core;
        _coordinator = coordinator;
        _address = address;
    }

    /// <summary>Whether the latest join or heartbeat was accepted.</summary>
    public bool Joined { get; private set; }

    private CoordinatorConnection Connection => new(_core.Channels.For(_coordinator), _core.Time);

    private JoinNotice Notice(bool leaving) => new(_core.Name, _address, _core.Store.Provider.Used, leaving);

    /// <summary>Joins now (in the background: an unreachable coordinator is retried at the heartbeat's period).</summary>
    public void Start()
    {
        // The first tick is the heartbeat period away: join at once, before the timer starts.
        var timer = new PeriodicTimer(_core.Options.HeartbeatInterval, _core.Time);
        _loop = Task.Run(() => LoopAsync(timer, _stop.Token), CancellationToken.None);
    }

    private async Task LoopAsync(PeriodicTimer timer, CancellationToken ct)
    {
        using var _ = timer;
        try
        {
            do
            {
                await BeatAsync(ct);
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task BeatAsync(CancellationToken ct)
    {
        try
        {
            await Connection.JoinAsync(Notice(leaving: false), _core.Options.SendTimeout, ct);
            if (!Joined)
            {
                _core.Logger.LogInformation("{Name} joined the coordinator at {Coordinator} as {Address}", _core.Name, _coordinator, _address);
            }
            Joined = true;
        }
        catch (ClusterException ex) when (!ct.IsCancellationRequested)
        {
            // Said once per outage, not at every heartbeat.
            if (Joined || _loggedFailure is null)
            {
                _core.Logger.LogWarning("{Name} cannot join the coordinator at {Coordinator}: {Message}; trying again every {Seconds:0.###} s",
                    _core.Name, _coordinator, ex.Message, _core.Options.HeartbeatInterval.TotalSeconds);
                _loggedFailure = ex.Message;
            }
            Joined = false;
        }
    }

    /// <summary>Stops the heartbeats without a word (a device that dies).</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        Joined = false;
    }

    /// <summary>Stops the heartbeats and tells the coordinator, which moves the plan off this agent before it answers.</summary>
    public async Task LeaveAsync()
    {
        var joined = Joined;
        await StopAsync();
        if (!joined)
        {
            return;
        }
        try
        {
            await Connection.JoinAsync(Notice(leaving: true), _core.Options.SendTimeout, CancellationToken.None);
            _core.Logger.LogInformation("{Name} left the coordinator at {Coordinator}", _core.Name, _coordinator);
        }
        catch (ClusterException ex)
        {
            _core.Logger.LogWarning("{Name} could not tell the coordinator at {Coordinator} it leaves: {Message}; it will notice the missed heartbeats", _core.Name, _coordinator, ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }
}
