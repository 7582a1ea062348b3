using System.Diagnostics;
using System.Net;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Codec;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Zoo;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Onnx;

// Cluster figures for issue 3: a model split over three loopback agents next to monolithic ORT.
// Usage: dotnet run -c Release --project bench/EdgeSplit.Bench.Cluster [-- --model PATH] [--requests N] [--split C1,C2]
// --probe: only time raw 3.28 MB Execute calls to one agent (gRPC transfer + parse, no compute).
var modelPath = Arg("--model");
var requests = int.Parse(Arg("--requests") ?? "100", System.Globalization.CultureInfo.InvariantCulture);
var splitText = Arg("--split");
var work = Directory.CreateTempSubdirectory("edgesplit-bench-cluster-");
if (args.Contains("--probe"))
{
    await using var agent = await AgentHost.StartAsync(new AgentOptions("probe") { CacheDirectory = Path.Combine(work.FullName, "probe") });
    var (channel, invoker) = GrpcChannels.Open(agent.Address, null);
    var client = new EdgeSplit.Cluster.Protos.Agent.AgentClient(invoker);
    var body = new byte[3_276_800];
    var payload = UnsafeByteOperations.UnsafeWrap(body);
    var execute = await TimeAsync(40, async () =>
    {
        // A hop nobody deployed: the agent reads and parses all 3.28 MB, then refuses it. No compute.
        var request = new EdgeSplit.Cluster.Protos.ExecuteRequest { RequestId = "p", Version = 99, ReplyTo = "x" };
        request.Tensors.Add(new EdgeSplit.Cluster.Protos.Tensor { Name = "x", ElementType = 1, Shape = { 819_200 }, Data = payload });
        try
        {
            await client.ExecuteAsync(request);
        }
        catch (Grpc.Core.RpcException)
        {
        }
    });
    Console.WriteLine($"gRPC Execute, 3.28 MB, parse included, no compute: median {execute:F2} ms = {body.Length / execute / 1e6:F2} GB/s (40 calls)");

    // The stack's own ceiling: the same bytes as a plain HTTP/2 POST through Kestrel and SocketsHttpHandler,
    // with the agents' windows and pool, without gRPC framing or protobuf.
    var web = WebApplication.CreateSlimBuilder();
    web.Logging.ClearProviders();
    web.WebHost.ConfigureKestrel(k =>
    {
        k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
        k.Limits.MaxRequestBodySize = null;
        k.Limits.Http2.InitialConnectionWindowSize = WireLimits.ConnectionWindowBytes;
        k.Limits.Http2.InitialStreamWindowSize = WireLimits.StreamWindowBytes;
    });
    web.Services.AddSingleton<IMemoryPoolFactory<byte>, LargeBlockMemoryPoolFactory>();
    await using var sink = web.Build();
    sink.MapPost("/sink", async context =>
    {
        while (true)
        {
            var read = await context.Request.BodyReader.ReadAsync();
            context.Request.BodyReader.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                break;
            }
        }
        context.Response.StatusCode = 204;
    });
    await sink.StartAsync();
    using var http = new HttpClient(new SocketsHttpHandler { InitialHttp2StreamWindowSize = WireLimits.StreamWindowBytes, UseProxy = false })
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };
    var sinkUri = sink.Urls.First() + "/sink";
    var raw = await TimeAsync(40, async () =>
    {
        using var content = new ByteArrayContent(body);
        using var response = await http.PostAsync(sinkUri, content);
        response.EnsureSuccessStatusCode();
    });
    Console.WriteLine($"raw HTTP/2 POST, 3.28 MB, same Kestrel and client: median {raw:F2} ms = {body.Length / raw / 1e6:F2} GB/s (40 calls)");
    await sink.StopAsync();

    var pings = new List<double>();
    for (var i = 0; i < 200; i++)
    {
        var started = Stopwatch.GetTimestamp();
        await client.PingAsync(new EdgeSplit.Cluster.Protos.PingRequest());
        pings.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }
    Console.WriteLine($"empty Ping round trip: p50 {Percentile(pings, 0.5):F3} ms, p95 {Percentile(pings, 0.95):F3} ms (200 calls)");
    channel.Dispose();
    return;
}
try
{
    if (modelPath is null)
    {
        modelPath = Path.Combine(work.FullName, "mobilenetv2.onnx");
        ModelZoo.Write("mobilenetv2", modelPath);
    }
    var model = OnnxModel.Load(modelPath);
    Console.WriteLine($"model {Path.GetFileName(modelPath)}: {model.Nodes.Count} nodes; machine: {Environment.ProcessorCount} cores, load average {LoadAverage()} (other work on the machine disturbs every figure)");

    var inputs = Inputs(model, seed: 1);
    var monolithicMs = Monolithic(modelPath, inputs, requests);
    Console.WriteLine($"monolithic ORT (1 thread):           p50 {Percentile(monolithicMs, 0.5):F2} ms, p95 {Percentile(monolithicMs, 0.95):F2} ms");

    var costs = EdgeSplit.Planning.ModelProfiling.Measure(model).Timing.NodeMs;
    var cuts = splitText is null ? EvenComputePlanSource.EvenCuts(costs, 3) : [.. splitText.Split(',').Select(int.Parse)];
    Console.WriteLine($"split at cuts [{string.Join(',', cuts)}]; live tensor bytes at them: {string.Join(", ", cuts.Select(c => $"{CutBytes(model, c, inputs) / 1e6:F2} MB"))}");
    await using (var cluster = await Cluster.StartAsync(work.FullName, OnnxServing.Create(model, "bench", costs), cuts))
    {
        // Sequential: latency and per-hop overhead.
        await cluster.RunAsync(inputs, 10, 1);
        var before = cluster.Snapshot();
        var (latencies, _) = await cluster.RunAsync(inputs, requests, 1);
        var stageMs = cluster.StageMeanMs(before);
        var p50 = Percentile(latencies, 0.5);
        // coordinator -> agent0 -> agent1 -> agent2 -> coordinator.
        var hops = cuts.Count + 2;
        Console.WriteLine($"3 agents, sequential:                p50 {p50:F2} ms, p95 {Percentile(latencies, 0.95):F2} ms (stages {string.Join(" + ", stageMs.Select(s => $"{s:F2}"))} ms compute)");
        Console.WriteLine($"overhead: {p50 - stageMs.Sum():F2} ms end to end over {hops} transfers = {(p50 - stageMs.Sum()) / hops:F2} ms per hop");

        // Pipelined: many requests in flight against the slowest stage's bound.
        before = cluster.Snapshot();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var (_, elapsed) = await cluster.RunAsync(inputs, requests * 2, 8);
        var cpuMsPerRequest = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / (requests * 2);
        var pipelinedStageMs = cluster.StageMeanMs(before);
        var throughput = requests * 2 / elapsed.TotalSeconds;
        var bound = 1000 / pipelinedStageMs.Max();
        Console.WriteLine($"pipelined, concurrency 8:            {throughput:F1} req/s; 1/slowest stage = {bound:F1} req/s (ratio {throughput / bound:F2})");
        // Every stage, transfer and the coordinator share this machine's cores: they cap throughput too.
        var coreBound = Environment.ProcessorCount * 1000 / cpuMsPerRequest;
        Console.WriteLine($"  CPU per request (all agents, transfers, coordinator): {cpuMsPerRequest:F2} ms; {Environment.ProcessorCount} cores allow at most {coreBound:F1} req/s (ratio to the lower bound {throughput / Math.Min(bound, coreBound):F2})");
    }

    // Transfer rate: a 3.2 MB tensor crosses three links (coordinator -> agent0 -> agent1 -> coordinator) around trivial compute.
    var bigPath = Path.Combine(work.FullName, "relay.onnx");
    await File.WriteAllBytesAsync(bigPath, ReluChain([1, 32, 160, 160]));
    var big = OnnxModel.Load(bigPath);
    var bigInputs = Inputs(big, seed: 2);
    var bytes = bigInputs[0].Data.Length;
    await using (var cluster = await Cluster.StartAsync(work.FullName, OnnxServing.Create(big, "relay"), [0], agents: 2))
    {
        await cluster.RunAsync(bigInputs, 10, 1);
        var before = cluster.Snapshot();
        var (latencies, _) = await cluster.RunAsync(bigInputs, requests, 1);
        var compute = cluster.StageMeanMs(before).Sum();
        var transferMs = Percentile(latencies, 0.5) - compute;
        Console.WriteLine($"transfer: {bytes / 1e6:F2} MB tensor, p50 {Percentile(latencies, 0.5):F2} ms for 3 transfers + {compute:F2} ms compute = {3 * bytes / (transferMs / 1000) / 1e9:F2} GB/s per transfer");
    }
    Console.WriteLine("(Debug builds and other work on the machine inflate every figure; run with -c Release on an idle machine.)");
}
finally
{
    work.Delete(recursive: true);
}

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

static async Task<double> TimeAsync(int calls, Func<Task> call)
{
    for (var i = 0; i < 5; i++)
    {
        await call();
    }
    var times = new List<double>();
    for (var i = 0; i < calls; i++)
    {
        var started = Stopwatch.GetTimestamp();
        await call();
        times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }
    return Percentile(times, 0.5);
}

static double Percentile(IReadOnlyList<double> values, double q) => LatencyStats.Percentile(values.Order().ToArray(), q * 100);

static IReadOnlyList<WireTensor> Inputs(OnnxModel model, int seed)
{
    var shapes = InputShapes.Resolve(model, null);
    return [.. RandomInputs.Create(model, shapes, seed).Select(t => new WireTensor(t.Name, t.ElementType, t.Shape, t.Data))];
}

static List<double> Monolithic(string path, IReadOnlyList<WireTensor> inputs, int runs)
{
    using var session = OrtSessions.Create(File.ReadAllBytes(path));
    var values = inputs.Select(t => OrtValue.CreateTensorValueFromMemory(t.ToFloats(), t.Shape)).ToList();
    var times = new List<double>();
    using var runOptions = new RunOptions();
    for (var i = 0; i < runs + 5; i++)
    {
        var started = Stopwatch.GetTimestamp();
        using var outputs = session.Run(runOptions, [.. inputs.Select(t => t.Name)], values, [.. session.OutputNames]);
        if (i >= 5)
        {
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }
    values.ForEach(v => v.Dispose());
    return times;
}

static long CutBytes(OnnxModel model, int cut, IReadOnlyList<WireTensor> inputs)
{
    var partitions = new Partitioner(model).Split([cut]);
    using var session = OrtSessions.Create(partitions[0].OnnxBytes);
    var values = inputs.Where(t => partitions[0].Inputs.Contains(t.Name)).Select(t => OrtValue.CreateTensorValueFromMemory(t.ToFloats(), t.Shape)).ToList();
    using var runOptions = new RunOptions();
    using var outputs = session.Run(runOptions, [.. partitions[0].Inputs], values, [.. session.OutputNames]);
    values.ForEach(v => v.Dispose());
    return outputs.Sum(o => o.GetTensorMutableRawData().Length) + inputs.Where(t => partitions[0].Forwards.Contains(t.Name)).Sum(t => (long)t.Data.Length);
}

static byte[] ReluChain(long[] shape)
{
    var graph = new GraphProto { Name = "relay" };
    graph.Node.Add(new NodeProto { Name = "r0", OpType = "Relu", Input = { "x" }, Output = { "h" } });
    graph.Node.Add(new NodeProto { Name = "r1", OpType = "Relu", Input = { "h" }, Output = { "y" } });
    graph.Input.Add(Value("x", shape));
    graph.Output.Add(Value("y", shape));
    var model = new ModelProto { IrVersion = 8, Graph = graph, OpsetImport = { new OperatorSetIdProto { Domain = "", Version = 13 } } };
    return model.ToByteArray();

    static ValueInfoProto Value(string name, long[] dims) => new()
    {
        Name = name,
        Type = new TypeProto
        {
            TensorType = new TypeProto.Types.Tensor
            {
                ElemType = (int)TensorProto.Types.DataType.Float,
                Shape = new TensorShapeProto { Dim = { dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }) } },
            },
        },
    };
}

/// <summary>Agents and a coordinator in this process on loopback, with per-stage compute read from the agents.</summary>
internal sealed class Cluster : IAsyncDisposable
{
    private readonly List<AgentHost> _agents = [];
    private CoordinatorHost? _coordinator;

    public static async Task<Cluster> StartAsync(string workDirectory, ServedModel model, IReadOnlyList<int> cuts, int agents = 3)
    {
        var cluster = new Cluster();
        for (var i = 0; i < agents; i++)
        {
            cluster._agents.Add(await AgentHost.StartAsync(new AgentOptions($"agent{i}") { CacheDirectory = Path.Combine(workDirectory, $"cache{i}") }));
        }
        cluster._coordinator = await CoordinatorHost.StartAsync(model, [.. cluster._agents.Select(a => new AgentEndpoint(a.Name, a.Address))],
            new FixedCutsPlanSource(cuts), new CoordinatorOptions { AttemptTimeout = TimeSpan.FromSeconds(30) });
        return cluster;
    }

    public (long Executed, TimeSpan Compute)[] Snapshot() => [.. _agents.Select(a => (a.Executed, a.ComputeTime))];

    public double[] StageMeanMs((long Executed, TimeSpan Compute)[] before) =>
        [.. _agents.Select((a, i) => (a.ComputeTime - before[i].Compute).TotalMilliseconds / Math.Max(1, a.Executed - before[i].Executed))];

    public async Task<(List<double> LatenciesMs, TimeSpan Elapsed)> RunAsync(IReadOnlyList<WireTensor> inputs, int count, int concurrency)
    {
        // In-process Infer: the figures are the cluster's path (coordinator -> agents -> coordinator), not a client's extra hop.
        var coordinator = _coordinator!;
        var latencies = new double[count];
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
        {
            var sent = Stopwatch.GetTimestamp();
            await coordinator.InferAsync(inputs, ct);
            latencies[i] = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
        });
        return ([.. latencies], Stopwatch.GetElapsedTime(started));
    }

    public async ValueTask DisposeAsync()
    {
        if (_coordinator is not null)
        {
            await _coordinator.DisposeAsync();
        }
        foreach (var agent in _agents)
        {
            await agent.DisposeAsync();
        }
    }
}
