using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EdgeSplit.Testbed.Linux;

namespace EdgeSplit.Testbed;

/// <summary>
/// Measures a testbed link for real: a bounded TCP transfer between the two namespaces for bandwidth,
/// and small request/response exchanges for RTT, each sender adding the link's one-way latency as the
/// agents do. Bandwidth is TCP goodput in the steady state (after the first fifth of the bytes, so the
/// tbf burst and slow start do not count); framing overhead makes it ~4% under the shaped line rate.
/// Figures are on the host's clock: under time dilation divide the RTT and multiply the bandwidth by the
/// factor to get the emulated link's.
/// </summary>
public static class LinkProbe
{
    /// <summary>Goodput from <paramref name="from"/> to <paramref name="to"/> in Mbit/s, over about <paramref name="duration"/>.</summary>
    public static async Task<double> MeasureBandwidthMbpsAsync(RunningTestbed testbed, string from, string to, TimeSpan duration, CancellationToken cancel)
    {
        var link = testbed.State.Link(from, to) ?? throw new ArgumentException($"no link {from}-{to}");
        var (listener, client, target) = OpenPair(testbed, from, to);
        using (listener)
        using (client)
        {
            var bytes = (long)Math.Clamp(testbed.State.Dilation.Slow(link.BandwidthMbps) * 1e6 / 8 * duration.TotalSeconds, 256 * 1024, 128L * 1024 * 1024);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter((duration * 4) + TimeSpan.FromSeconds(10));
            var accept = listener.AcceptAsync(timeout.Token).AsTask();
            await client.ConnectAsync(target, timeout.Token);
            using var server = await accept;
            var receive = Task.Run(() => Receive(server, bytes, timeout.Token), timeout.Token);
            var chunk = new byte[64 * 1024];
            for (long sent = 0; sent < bytes;)
            {
                var n = (int)Math.Min(chunk.Length, bytes - sent);
                sent += await client.SendAsync(chunk.AsMemory(0, n), SocketFlags.None, timeout.Token);
            }
            return await receive;
        }
    }

    /// <summary>Median of <paramref name="rounds"/> round trips in ms, latency added by each sender.</summary>
    public static async Task<double> MeasureRttMsAsync(RunningTestbed testbed, string from, string to, int rounds, CancellationToken cancel)
    {
        var link = testbed.State.Link(from, to) ?? throw new ArgumentException($"no link {from}-{to}");
        var (listener, client, target) = OpenPair(testbed, from, to);
        using (listener)
        using (client)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            var latency = TimeSpan.FromMilliseconds(testbed.State.Dilation.StretchMs(link.LatencyMs));
            timeout.CancelAfter(TimeSpan.FromSeconds(30) + (latency * rounds * 4));
            var accept = listener.AcceptAsync(timeout.Token).AsTask();
            await client.ConnectAsync(target, timeout.Token);
            client.NoDelay = true;
            using var server = await accept;
            server.NoDelay = true;
            var echo = Task.Run(async () =>
            {
                var one = new byte[1];
                for (var i = 0; i < rounds; i++)
                {
                    if (await server.ReceiveAsync(one, SocketFlags.None, timeout.Token) == 0)
                    {
                        return;
                    }
                    PreciseDelay(latency);
                    await server.SendAsync(one, SocketFlags.None, timeout.Token);
                }
            }, timeout.Token);
            var samples = new List<double>();
            var buffer = new byte[1];
            for (var i = 0; i < rounds; i++)
            {
                var start = Stopwatch.GetTimestamp();
                PreciseDelay(latency);
                await client.SendAsync(buffer, SocketFlags.None, timeout.Token);
                if (await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) == 0)
                {
                    throw new TestbedException($"the RTT probe {from}->{to} was closed early");
                }
                samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            await echo;
            samples.Sort();
            return samples[samples.Count / 2];
        }
    }

    /// <summary>A listener in <paramref name="to"/> on its end of the link and an unconnected client in <paramref name="from"/>.</summary>
    internal static (Socket Listener, Socket Client, IPEndPoint Target) OpenPair(RunningTestbed testbed, string from, string to)
    {
        var state = testbed.State;
        var link = state.Link(from, to)!;
        var toAddress = IPAddress.Parse(link.A == to ? link.AddressA : link.AddressB);
        var fromNs = state.Device(from).Namespace;
        var toNs = state.Device(to).Namespace;
        Socket NewSocket() => new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var listener = toNs is null ? NewSocket() : NetworkNamespace.CreateSocket(toNs, NewSocket);
        listener.Bind(new IPEndPoint(toAddress, 0));
        listener.Listen(1);
        var client = fromNs is null ? NewSocket() : NetworkNamespace.CreateSocket(fromNs, NewSocket);
        return (listener, client, (IPEndPoint)listener.LocalEndPoint!);
    }

    private static double Receive(Socket socket, long bytes, CancellationToken cancel)
    {
        var buffer = new byte[256 * 1024];
        long total = 0;
        long warmBytes = bytes / 5;
        long markBytes = -1;
        long markTime = 0;
        while (total < bytes)
        {
            cancel.ThrowIfCancellationRequested();
            var n = socket.Receive(buffer);
            if (n == 0)
            {
                throw new TestbedException("the bandwidth probe was closed early");
            }
            total += n;
            if (markBytes < 0 && total >= warmBytes)
            {
                markBytes = total;
                markTime = Stopwatch.GetTimestamp();
            }
        }
        var seconds = Stopwatch.GetElapsedTime(markTime).TotalSeconds;
        return (total - markBytes) * 8 / seconds / 1e6;
    }

    /// <summary>Sleeps to within a millisecond, then spins: Task.Delay alone overshoots small latencies by ~1 ms.</summary>
    internal static void PreciseDelay(TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            return;
        }
        var start = Stopwatch.GetTimestamp();
        if (delay > TimeSpan.FromMilliseconds(2))
        {
            Thread.Sleep(delay - TimeSpan.FromMilliseconds(1.5));
        }
        while (Stopwatch.GetElapsedTime(start) < delay)
        {
            Thread.SpinWait(20);
        }
    }
}
