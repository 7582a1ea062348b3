using System.Threading.Channels;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Runtime.Codec;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace EdgeSplit.Cluster.Agent;

/// <summary>One hop of one plan version on this agent, as the coordinator deployed it.</summary>
internal sealed record HopSpec(long Version, HopDeployment Deployment)
{
    public int Hop => Deployment.Hop;

    public string? PartitionSha256 => Deployment.PartitionSha256;

    public IReadOnlyList<string> Inputs => Deployment.Inputs;

    public IReadOnlyList<string> Forwards => Deployment.Forwards;

    public string? NextAddress => Deployment.NextAddress;

    public string? NextDevice => Deployment.NextDevice;

    public FeatureMapCompression Compression => Deployment.Compression;

    public IReadOnlyList<HopTarget> FanOut => Deployment.FanOut;

    public int Join => Deployment.Join;

    /// <summary>The hop the next address runs (a tile sends to its group's gather, not to the hop after it).</summary>
    public int NextHop => Deployment.NextHop > 0 ? Deployment.NextHop : Hop + 1;

    /// <summary>Whether results leave this agent for another hop (so float maps may be compressed) rather than being delivered.</summary>
    public bool SendsOn => NextAddress is not null || FanOut.Count > 0;

    public bool SameAs(HopSpec other) =>
        PartitionSha256 == other.PartitionSha256 && NextAddress == other.NextAddress && Compression == other.Compression
        && Inputs.SequenceEqual(other.Inputs) && Forwards.SequenceEqual(other.Forwards) && Join == other.Join && NextHop == other.NextHop
        && FanOut.Count == other.FanOut.Count && FanOut.Zip(other.FanOut).All(p => p.First.Hop == p.Second.Hop
            && p.First.Address == p.Second.Address && p.First.Tensors.SequenceEqual(p.Second.Tensors));
}

/// <summary>One request's tensors waiting for a hop, with the size and time of the transfer that brought them.</summary>
internal sealed record StageWork(HopRequest Request, long BytesIn, double TransferInMs);

/// <summary>
/// Runs one hop: a compute loop takes requests from a bounded inbox and runs the partition; a
/// send loop forwards results to the next agent (or delivers them) while the next request
/// computes. Both queues are bounded, so a slow next stage slows this one and then its sender.
/// Nothing a request carries (a bad address, a failed send, a peer that is gone) ends either loop.
/// </summary>
internal sealed class HopRuntime : IAsyncDisposable
{
    private readonly Channel<StageWork> _inbox;
    private readonly Channel<Outgoing> _outbox;
    private readonly AgentCore _agent;
    private readonly InferenceSession? _session;
    private readonly string[] _outputNames;
    private readonly Task _computeLoop;
    private readonly Task _sendLoop;
    private readonly CancellationTokenSource _stop = new();

    public HopRuntime(AgentCore agent, HopSpec spec, InferenceSession? session, int capacity)
    {
        _agent = agent;
        Spec = spec;
        _session = session;
        _outputNames = session is null ? [] : [.. session.OutputNames];
        Required = [.. spec.Inputs.Concat(spec.Forwards.Where(f => !_outputNames.Contains(f))).Distinct()];
        Joining = spec.Join > 1 ? new PartJoin(spec.Join, agent.Name, agent.Time) : null;
        _inbox = Channel.CreateBounded<StageWork>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
        _outbox = Channel.CreateBounded<Outgoing>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true });
        // ORT blocks its thread for the whole run: a dedicated thread keeps the pool free for gRPC I/O.
        _computeLoop = Task.Factory.StartNew(ComputeLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        _sendLoop = Task.Run(SendLoopAsync);
    }

    public HopSpec Spec { get; }

    /// <summary>Tensors a request must bring: the session's inputs and what is forwarded unchanged.</summary>
    public IReadOnlyList<string> Required { get; }

    /// <summary>The parts of requests this hop waits for before it runs them (a tile group's gather); null when it takes one sender.</summary>
    public PartJoin? Joining { get; }

    public int Queued => _inbox.Reader.Count + _outbox.Reader.Count;

    /// <summary>Queues a request; waits while the inbox is full (that wait is the backpressure).</summary>
    public ValueTask EnqueueAsync(StageWork work, CancellationToken ct) => _inbox.Writer.WriteAsync(work, ct);

    /// <summary>
    /// Runs the hop once on zero-filled inputs so the first real request finds it warm; skipped
    /// (false) when an input's rank is unknown, since no shape can be guessed for it.
    /// </summary>
    public static bool Warm(InferenceSession session)
    {
        if (session.InputMetadata.Values.Any(m => m.Dimensions.Length == 0))
        {
            return false;
        }
        var values = new List<OrtValue>();
        try
        {
            foreach (var (name, meta) in session.InputMetadata)
            {
                var shape = meta.Dimensions.Select(d => d > 0 ? (long)d : 1L).ToArray();
                values.Add(OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, meta.ElementDataType, shape));
                // Allocated memory is uninitialised; zeros keep warm-up free of NaN surprises.
                values[^1].GetTensorMutableRawData().Clear();
            }
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, [.. session.InputMetadata.Keys], values, [.. session.OutputNames]);
            return true;
        }
        catch (OnnxRuntimeException)
        {
            // A symbolic dimension guessed as 1 may not fit the graph; the first request then warms it.
            return false;
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    private void ComputeLoop()
    {
        while (_inbox.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            if (!_inbox.Reader.TryRead(out var work))
            {
                continue;
            }
            if (_agent.Time.GetUtcNow() > work.Request.Deadline)
            {
                // The coordinator gave up on this attempt and retried it; computing it would only add load.
                _agent.CountDropped();
                continue;
            }
            Outgoing outgoing;
            try
            {
                outgoing = Compute(work);
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or ClusterException or InvalidOperationException or ArgumentException or KeyNotFoundException)
            {
                _agent.Logger.LogWarning("v{Version} hop {Hop}: request {Id} failed: {Message}", Spec.Version, Spec.Hop, work.Request.RequestId, ex.Message);
                outgoing = new Outgoing(work, [], null, $"{_agent.Name} could not run v{Spec.Version} hop {Spec.Hop}: {ex.Message}", _agent.Name);
            }
            var queued = _outbox.Writer.WriteAsync(outgoing, CancellationToken.None);
            if (!queued.IsCompletedSuccessfully)
            {
                // The sender is behind: wait here, which in turn fills the inbox and slows the previous device.
                queued.AsTask().GetAwaiter().GetResult();
            }
        }
        _outbox.Writer.TryComplete();
    }

    private Outgoing Compute(StageWork work)
    {
        var started = _agent.Time.GetTimestamp();
        var cpuStarted = Monitoring.ThreadCpuClock.Now();
        var byName = work.Request.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        if (_session is null)
        {
            return new Outgoing(work, [.. Spec.Forwards.Select(n => Prepare(byName[n]))], null, null, null);
        }
        var emulated = _agent.Options.Emulation;
        var inputs = new List<OrtTensors.InputScope>(Spec.Inputs.Count);
        IDisposableReadOnlyCollection<OrtValue>? outputs = null;
        try
        {
            foreach (var name in Spec.Inputs)
            {
                inputs.Add(OrtTensors.ToOrtValue(byName[name]));
            }
            using var runOptions = new RunOptions();
            outputs = _session.Run(runOptions, Spec.Inputs, inputs.Select(i => i.Value).ToArray(), _outputNames);
            var produced = new Dictionary<string, OrtValue>(StringComparer.Ordinal);
            for (var i = 0; i < _outputNames.Length; i++)
            {
                produced[_outputNames[i]] = outputs.ElementAt(i);
            }
            var forwards = new List<WireTensor>(Spec.Forwards.Count);
            foreach (var name in Spec.Forwards)
            {
                forwards.Add(produced.TryGetValue(name, out var value) ? Prepare(OrtTensors.View(name, value)) : Prepare(byName[name]));
            }
            if (emulated is not null)
            {
                // An emulated device's speed: the run's CPU time (ORT on this thread) stretched by the device's slowdown.
                emulated.AfterComputeAsync(_agent.Time.GetElapsedTime(started), Monitoring.ThreadCpuClock.Now() - cpuStarted, CancellationToken.None).GetAwaiter().GetResult();
            }
            var computeTime = _agent.Time.GetElapsedTime(started);
            _agent.RecordCompute(computeTime);
            var result = new Outgoing(work, forwards, outputs, null, null) { ComputeMs = computeTime.TotalMilliseconds };
            outputs = null;
            return result;
        }
        finally
        {
            outputs?.Dispose();
            foreach (var input in inputs)
            {
                input.Dispose();
            }
        }
    }

    /// <summary>Compresses float feature maps for the next agent; the final result goes out exact.</summary>
    private WireTensor Prepare(WireTensor tensor) =>
        Spec.SendsOn ? tensor.Compress(Spec.Compression) : tensor.Decompress();

    private async Task SendLoopAsync()
    {
        await foreach (var outgoing in _outbox.Reader.ReadAllAsync(CancellationToken.None))
        {
            try
            {
                await SendAsync(outgoing);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Whatever one request brought, the loop goes on: a dead loop would stall this hop for every later request.
                _agent.Logger.LogWarning("v{Version} hop {Hop}: sending request {Id} failed: {Message}", Spec.Version, Spec.Hop, outgoing.Work.Request.RequestId, ex.Message);
            }
            finally
            {
                outgoing.Owned?.Dispose();
            }
        }
    }

    private async Task SendAsync(Outgoing outgoing)
    {
        var work = outgoing.Work;
        var timings = work.Request.Timings.Append(
            new HopTiming(Spec.Hop, _agent.Name, outgoing.ComputeMs, work.BytesIn, work.TransferInMs, work.Request.FromDevice)).ToList();
        if (outgoing.Error is null && Spec.FanOut.Count > 0)
        {
            // A scatter: every target gets its own tensors at once (each over its own link), and the first failure is reported.
            var byName = outgoing.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
            var failures = await Task.WhenAll(Spec.FanOut.Select(target =>
                ForwardAsync(work, [.. target.Tensors.Select(n => byName[n])], timings, target.Hop, target.Address, target.Device)));
            if (failures.FirstOrDefault(f => f is not null) is { } failure)
            {
                await DeliverAsync(work, [], failure.Error, failure.Device, []);
            }
            return;
        }
        if (outgoing.Error is null && Spec.NextAddress is not null)
        {
            if (await ForwardAsync(work, outgoing.Tensors, timings, Spec.NextHop, Spec.NextAddress, Spec.NextDevice) is { } failure)
            {
                await DeliverAsync(work, [], failure.Error, failure.Device, []);
            }
            return;
        }
        await DeliverAsync(work, outgoing.Tensors, outgoing.Error, outgoing.FailedDevice, timings);
    }

    /// <summary>Sends a request's tensors on to hop <paramref name="hop"/>; returns why it failed (the next device is down or refused them), or null.</summary>
    private async Task<(string Error, string? Device)?> ForwardAsync(StageWork work, IReadOnlyList<WireTensor> tensors, List<HopTiming> timings, int hop, string address, string? device)
    {
        var request = work.Request with
        {
            Hop = hop,
            Tensors = tensors,
            Timings = timings,
            FromDevice = _agent.Name,
        };
        try
        {
            var next = _agent.Peer(address, device);
            var bytes = AgentConnection.WireBytes(request);
            var started = _agent.Time.GetTimestamp();
            if (_agent.Options.Emulation is { } emulation)
            {
                // An emulated link delays on the sender (one sender per hop, so paced transfers queue like packets),
                // and the transfer timed here includes it as a real slow link would.
                await emulation.BeforeSendAsync(AgentService.EmulatedPeer(emulation, address, device), bytes, _stop.Token);
            }
            var waited = await next.ExecuteAsync(request, _agent.Options.SendTimeout, _stop.Token);
            // Passive bandwidth: the real transfer, minus the time the receiver made us wait for queue room.
            _agent.Links.For(address).AddTransfer(bytes, _agent.Time.GetElapsedTime(started) - waited);
            return null;
        }
        catch (ClusterException ex)
        {
            // The next device is down or refused the tensors: tell the coordinator now rather than let it time out.
            return ($"forwarding to {device} at {address} failed: {ex.Message}", device);
        }
    }

    private async Task DeliverAsync(StageWork work, IReadOnlyList<WireTensor> tensors, string? error, string? failedDevice, IReadOnlyList<HopTiming> timings)
    {
        try
        {
            await _agent.Coordinator(work.Request.ReplyTo).DeliverAsync(new Delivery(work.Request.RequestId, tensors, error, failedDevice, timings), _agent.Options.SendTimeout, _stop.Token);
        }
        catch (ClusterException ex)
        {
            // Nobody to tell: the coordinator's deadline will retry the request.
            _agent.Logger.LogWarning("delivering request {Id} to {ReplyTo} failed: {Message}", work.Request.RequestId, work.Request.ReplyTo, ex.Message);
        }
    }

    /// <summary>Stops accepting work, lets queued requests finish (bounded by <paramref name="grace"/>).</summary>
    public async Task DrainAsync(TimeSpan grace)
    {
        _inbox.Writer.TryComplete();
        var both = Task.WhenAll(_computeLoop, _sendLoop);
        if (await Task.WhenAny(both, Task.Delay(grace, _agent.Time)) != both)
        {
            await _stop.CancelAsync();
        }
        await both.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync()
    {
        await DrainAsync(_agent.Options.ShutdownTimeout);
        _stop.Dispose();
    }

    /// <summary>A finished hop: tensors to send (possibly views of <see cref="Owned"/>), or an error.</summary>
    private sealed record Outgoing(StageWork Work, IReadOnlyList<WireTensor> Tensors, IDisposable? Owned, string? Error, string? FailedDevice)
    {
        public double ComputeMs { get; init; }
    }
}
