using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Runtime.Codec;
using Grpc.Core;

// Drives a running coordinator (real `edgesplit serve` and `edgesplit agent` processes, loopback only) the way
// issue 11's adversarial tester did, and prints what it measured. Bounded in count and time.
//   load  --server HOST:PORT [--token T] [--count N] [--concurrency C] [--stop-pid P --at K] [--kill-pid P --at K]
//         N seeded requests at concurrency C; at the K-th completion it sends SIGSTOP (or SIGKILL) to process P;
//         prints failures and the longest stretch without a completed request after that moment.
//   flood --server HOST:PORT --pid P [--count 24] [--concurrency 8] [--mib 60]
//         unauthenticated Infer calls of MIB MiB each; prints the coordinator's RSS (from /proc/P/status) before and after.
string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
int IntArg(string name, int fallback) => Arg(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
var server = Arg("--server") ?? throw new ArgumentException("--server HOST:PORT");

switch (args.FirstOrDefault())
{
    case "load":
        await LoadAsync();
        break;
    case "flood":
        await FloodAsync();
        break;
    default:
        Console.Error.WriteLine("usage: load|flood --server HOST:PORT ...");
        return 2;
}
return 0;

async Task LoadAsync()
{
    var count = IntArg("--count", 400);
    var concurrency = IntArg("--concurrency", 8);
    var at = IntArg("--at", count / 4);
    var signal = Arg("--stop-pid") is { } stop ? ("STOP", stop) : Arg("--kill-pid") is { } kill ? ("KILL", kill) : default;
    using var client = new ClusterClient(server, Arg("--token"));
    var status = await client.StatusAsync();
    var input = status.Inputs[0];
    long[] shape = [.. input.Shape!.Select(d => d ?? 1)];
    var completions = new ConcurrentQueue<long>();
    var failures = new ConcurrentQueue<string>();
    long signalledAt = 0;
    var done = 0;
    var started = Stopwatch.GetTimestamp();
    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (seed, ct) =>
    {
        var random = new Random(seed);
        var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)random.NextDouble();
        }
        try
        {
            await client.InferAsync([WireTensor.FromFloats(input.Name, shape, values)], TimeSpan.FromSeconds(120), ct);
            completions.Enqueue(Stopwatch.GetTimestamp());
        }
        catch (RpcException ex)
        {
            failures.Enqueue($"{ex.StatusCode}: {ex.Status.Detail}");
        }
        if (Interlocked.Increment(ref done) == at && signal != default)
        {
            using var kill = Process.Start("kill", ["-" + signal.Item1, signal.Item2])!;
            await kill.WaitForExitAsync(ct);
            Interlocked.Exchange(ref signalledAt, Stopwatch.GetTimestamp());
        }
    });
    var elapsed = Stopwatch.GetElapsedTime(started);
    var since = signalledAt > 0 ? signalledAt : started;
    var times = completions.Where(t => t >= since).Order().Prepend(since).ToList();
    var gap = times.Zip(times.Skip(1)).Select(p => Stopwatch.GetElapsedTime(p.First, p.Second)).DefaultIfEmpty().Max();
    Console.WriteLine($"{count} requests at concurrency {concurrency} in {elapsed.TotalSeconds:F1} s: {completions.Count} completed, {failures.Count} failed");
    if (signal != default)
    {
        Console.WriteLine($"SIG{signal.Item1} to pid {signal.Item2} at completion {at}: longest stretch without a completed request after it {gap.TotalSeconds:F2} s");
    }
    foreach (var reason in failures.GroupBy(f => f).OrderByDescending(g => g.Count()).Take(3))
    {
        Console.WriteLine($"  {reason.Count()} x {reason.Key}");
    }
    var after = await client.StatusAsync();
    Console.WriteLine($"coordinator: completed {after.Completed}, failed {after.Failed}, retried {after.Retried}, plan {after.Plan?.ToString() ?? "none: " + after.Unavailable}{(after.Degraded is null ? "" : $" ({after.Degraded})")}");
}

async Task FloodAsync()
{
    var pid = Arg("--pid") ?? throw new ArgumentException("--pid of the coordinator");
    var count = IntArg("--count", 24);
    var concurrency = IntArg("--concurrency", 8);
    var bytes = IntArg("--mib", 60) << 20;
    Console.WriteLine($"coordinator RSS before: {Rss(pid)} MB");
    using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, EnableMultipleHttp2Connections = true });
    var body = new byte[bytes + 5];
    // One gRPC frame announcing the whole message (an Infer of one big tensor field), no token.
    System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(body.AsSpan(1), bytes);
    var statuses = new ConcurrentQueue<string>();
    var started = Stopwatch.GetTimestamp();
    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (_, ct) =>
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://{server}/edgesplit.v1.Coordinator/Infer")
        {
            Content = content,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        try
        {
            using var response = await http.SendAsync(request, ct);
            await response.Content.ReadAsByteArrayAsync(ct);
            var status = response.Headers.TryGetValues("grpc-status", out var h) ? h.First() : response.TrailingHeaders.TryGetValues("grpc-status", out var t) ? t.First() : "?";
            statuses.Enqueue($"grpc-status {status}");
        }
        catch (HttpRequestException ex)
        {
            statuses.Enqueue($"reset: {ex.Message}");
        }
    });
    Console.WriteLine($"{count} unauthenticated Infer calls of {bytes >> 20} MiB, {concurrency} at a time, in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s: " +
        string.Join(", ", statuses.GroupBy(s => s).Select(g => $"{g.Count()} x {g.Key}")));
    Console.WriteLine($"coordinator RSS right after: {Rss(pid)} MB");
    await Task.Delay(TimeSpan.FromSeconds(5));
    Console.WriteLine($"coordinator RSS 5 s later: {Rss(pid)} MB");
}

static long Rss(string pid) =>
    long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
