using System.Net;
using System.Net.Sockets;

namespace EdgeSplit.Tests;

/// <summary>
/// Test double of a hung device: a TCP proxy on loopback port 0 in front of a real agent. <see cref="Freeze"/>
/// stops moving bytes both ways while every connection stays open, as a stopped process (SIGSTOP) would
/// look to its peers; <see cref="Thaw"/> resumes. Only what is sent to the agent passes through it.
/// <see cref="Watch"/> makes it a wiretap too: it tells whether given bytes (a token) crossed it in either direction.
/// </summary>
public sealed class FreezableProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _pumps = [];
    private readonly Task _accept;
    private volatile TaskCompletionSource _running = Open();
    private byte[]? _watched;
    private volatile bool _seen;
    private long _forwarded;

    private FreezableProxy(IPEndPoint target)
    {
        _target = target;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Address = $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _accept = Task.Run(AcceptAsync);
    }

    /// <summary>The proxy's own address (<c>127.0.0.1:PORT</c>): give it to the coordinator instead of the agent's.</summary>
    public string Address { get; }

    /// <summary>Starts a proxy to <paramref name="target"/> (<c>host:port</c>).</summary>
    public static FreezableProxy Start(string target)
    {
        var colon = target.LastIndexOf(':');
        return new FreezableProxy(new IPEndPoint(IPAddress.Parse(target[..colon]), int.Parse(target[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>Looks for <paramref name="needle"/> in every byte that crosses from now on, across read boundaries.</summary>
    public void Watch(byte[] needle) => _watched = needle;

    /// <summary>Bytes that have crossed the proxy, both ways.</summary>
    public long BytesForwarded => Interlocked.Read(ref _forwarded);

    /// <summary>Whether the watched bytes crossed the proxy, as they would show in a packet capture of the link.</summary>
    public bool Seen => _seen;

    public void Freeze() => _running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Thaw() => _running.TrySetResult();

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            var upstream = new TcpClient();
            try
            {
                await upstream.ConnectAsync(_target, _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
                client.Dispose();
                upstream.Dispose();
                continue;
            }
            client.NoDelay = true;
            upstream.NoDelay = true;
            lock (_pumps)
            {
                _pumps.Add(PumpAsync(client, upstream));
                _pumps.Add(PumpAsync(upstream, client));
            }
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to)
    {
        var buffer = new byte[64 * 1024];
        var tail = new List<byte>();
        try
        {
            var source = from.GetStream();
            var sink = to.GetStream();
            while (true)
            {
                var read = await source.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    break;
                }
                Scan(tail, buffer.AsSpan(0, read));
                // Frozen: the bytes wait here, and TCP's own windows soon stop the sender.
                await _running.Task.WaitAsync(_stop.Token);
                await sink.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                Interlocked.Add(ref _forwarded, read);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }

    /// <summary>Searches the last bytes of the previous read plus this one, so a needle split across reads is found.</summary>
    private void Scan(List<byte> tail, ReadOnlySpan<byte> read)
    {
        if (_watched is not { Length: > 0 } needle || _seen)
        {
            return;
        }
        var window = new byte[tail.Count + read.Length];
        tail.CopyTo(window);
        read.CopyTo(window.AsSpan(tail.Count));
        if (window.AsSpan().IndexOf(needle) >= 0)
        {
            _seen = true;
        }
        tail.Clear();
        tail.AddRange(window.AsSpan(Math.Max(0, window.Length - (needle.Length - 1))));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accept;
        Task[] pumps;
        lock (_pumps)
        {
            pumps = [.. _pumps];
        }
        await Task.WhenAll(pumps);
        _stop.Dispose();
    }
}
