using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Codec;
using Grpc.Core;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Polly;
using Polly.Retry;

namespace EdgeSplit.Cli.Commands;

/// <summary><c>edgesplit infer</c>: a client of <c>edgesplit serve</c>, optionally checking answers against a local run.</summary>
internal static class InferCommand
{
    /// <summary>The tolerance <c>verify</c> uses: max abs difference to the monolithic output.</summary>
    private const double Tolerance = 1e-4;

    public static Command Create()
    {
        var server = new Option<string>("--server") { Description = "Coordinator HOST:PORT.", Required = true };
        var input = new Option<FileInfo?>("--input") { Description = "Image file (resized to the model input, ImageNet-normalised)." };
        var random = new Option<bool>("--random") { Description = "Send seeded random inputs (request i uses seed S+i)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the first random input.", DefaultValueFactory = _ => 0 };
        var count = new Option<int>("--count") { Description = "Requests to send.", DefaultValueFactory = _ => 1 };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight at once.", DefaultValueFactory = _ => 1 };
        var check = new Option<FileInfo?>("--check") { Description = "ONNX model to run locally and compare every answer with (tolerance 1e-4)." };
        var retries = new Option<int>("--retries") { Description = "Times a request is sent again when the coordinator is unreachable (it restarts, a connection drops), with a doubling pause from 200 ms.", DefaultValueFactory = _ => 6 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds one request may take, retries included.", DefaultValueFactory = _ => 120 };
        var token = new TokenOptions();
        var tls = new ListenerOptions();
        var json = CommonOptions.Json();
        var command = new Command("infer", "Send requests to a coordinator and report latency, throughput and mismatches.")
        {
            server, input, random, seed, count, concurrency, check, retries, timeout, json,
        };
        token.AddTo(command);
        tls.AddTlsTo(command);
        CommandRunner.SetAction(command, async (parse, ct) =>
        {
            var image = parse.GetValue(input);
            var useRandom = parse.GetValue(random);
            if ((image is null) == !useRandom)
            {
                throw new BadInputException("give exactly one of --input IMAGE or --random");
            }
            var requests = parse.GetValue(count);
            var parallel = parse.GetValue(concurrency);
            if (requests < 1 || parallel < 1)
            {
                throw new BadInputException("--count and --concurrency must be at least 1");
            }
            var retryCount = parse.GetValue(retries);
            var seconds = parse.GetValue(timeout);
            if (retryCount < 0 || !(seconds > 0))
            {
                throw new BadInputException("--retries must be at least 0 and --timeout above 0");
            }
            var address = parse.GetValue(server)!;
            using var client = new ClusterClient(address, token.Resolve(parse), tls: tls.ResolveTls(parse, server: false));
            var resilient = Resilient(retryCount);
            CoordinatorStatus status;
            try
            {
                status = await resilient.ExecuteAsync(async c => await client.StatusAsync(c), ct);
            }
            catch (RpcException ex)
            {
                throw new BadInputException(ex.StatusCode == StatusCode.Unauthenticated
                    ? $"the coordinator at {address} refused the token; pass the cluster's --token"
                    : $"cannot reach a coordinator at {address} ({ex.StatusCode}); is 'edgesplit serve' running there?{TlsHint(ex)}");
            }
            // A refused TLS handshake looks like an absent server from here: say what it would take.
            static string TlsHint(RpcException ex) => ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal
                ? " If it serves TLS, give its fleet CA with --tls-ca and, for mutual TLS, a client --tls-cert and --tls-key from that CA"
                : "";
            var makeInputs = image is null
                ? (Func<int, IReadOnlyList<WireTensor>>)(i => RandomInputs(status.Inputs, parse.GetValue(seed) + i))
                : LoadImage(image, status.Inputs);

            using var reference = parse.GetValue(check) is { } model ? OpenReference(model) : null;
            var latenciesMs = new double[requests];
            var failed = 0;
            var mismatches = 0;
            var maxAbsDiff = 0.0;
            var started = Stopwatch.GetTimestamp();
            await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = ct }, async (i, token) =>
            {
                var inputs = makeInputs(i);
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
                    deadline.CancelAfter(TimeSpan.FromSeconds(seconds));
                    // Reconnects and sends again while the coordinator is away (a restart drops every call in flight).
                    var result = await resilient.ExecuteAsync(async c => await client.InferAsync(inputs, ct: c), deadline.Token);
                    latenciesMs[i] = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                    if (reference is not null)
                    {
                        var diff = MaxAbsDiff(reference, inputs, result.Outputs);
                        lock (latenciesMs)
                        {
                            maxAbsDiff = Math.Max(maxAbsDiff, diff);
                        }
                        if (!(diff <= Tolerance))
                        {
                            Interlocked.Increment(ref mismatches);
                        }
                    }
                }
                catch (RpcException ex) when (!token.IsCancellationRequested)
                {
                    latenciesMs[i] = double.NaN;
                    Interlocked.Increment(ref failed);
                    await Console.Error.WriteLineAsync($"request {i}: {ex.StatusCode} {ex.Status.Detail}");
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                    latenciesMs[i] = double.NaN;
                    Interlocked.Increment(ref failed);
                    await Console.Error.WriteLineAsync($"request {i}: no answer within {seconds:0.###} s");
                }
            });
            var elapsed = Stopwatch.GetElapsedTime(started);
            var stats = LatencyStats.From([.. latenciesMs.Where(double.IsFinite)]);
            var summary = new InferSummary(
                requests,
                failed,
                reference is null ? null : mismatches,
                reference is null ? null : Finite(maxAbsDiff),
                Finite(stats.P50Ms),
                Finite(stats.P95Ms),
                Finite(stats.P99Ms),
                Finite(stats.MaxMs),
                stats.Count / elapsed.TotalSeconds);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(summary, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            }
            else
            {
                Console.WriteLine($"{summary.Count} requests to {address} ({status.Model}): {summary.Failed} failed"
                    + (summary.Mismatches is null ? "" : $", {summary.Mismatches} mismatches (max abs diff {summary.MaxAbsDiff:G3}, tolerance {Tolerance})"));
                Console.WriteLine($"p50 {summary.P50Ms:F2} ms, p95 {summary.P95Ms:F2} ms, p99 {summary.P99Ms:F2} ms, max {summary.MaxMs:F2} ms, {summary.ThroughputPerS:F1} requests/s at concurrency {parallel}");
            }
            return failed > 0 || mismatches > 0 ? ExitCodes.CheckFailed : ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>What <c>--json</c> prints; figures that do not exist (no answer, no check) are null.</summary>
    private sealed record InferSummary(int Count, int Failed, int? Mismatches, double? MaxAbsDiff, double? P50Ms, double? P95Ms, double? P99Ms, double? MaxMs, double ThroughputPerS);

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    /// <summary>
    /// Retries a call the coordinator did not receive or could not finish because it went away (Unavailable:
    /// refused or reset connections; Internal: a response cut short; Cancelled by a server shutting down, not by
    /// us). Inference has no side effect, so sending again is safe.
    /// </summary>
    private static ResiliencePipeline Resilient(int retries) => retries == 0 ? ResiliencePipeline.Empty : new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
    {
        ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is RpcException ex
            && (ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal || (ex.StatusCode == StatusCode.Cancelled && !args.Context.CancellationToken.IsCancellationRequested))),
        MaxRetryAttempts = retries,
        Delay = TimeSpan.FromMilliseconds(200),
        BackoffType = DelayBackoffType.Exponential,
        UseJitter = true,
    }).Build();

    private static InferenceSession OpenReference(FileInfo model)
    {
        if (!model.Exists)
        {
            throw new BadInputException($"--check model '{model.FullName}' does not exist");
        }
        try
        {
            return OrtSessions.Create(File.ReadAllBytes(model.FullName));
        }
        catch (OnnxRuntimeException ex)
        {
            throw new BadInputException($"--check model '{model.Name}' cannot be loaded by ONNX Runtime: {ex.Message}");
        }
    }

    /// <summary>Largest absolute difference to the local run (infinity when shapes differ).</summary>
    private static double MaxAbsDiff(InferenceSession reference, IReadOnlyList<WireTensor> inputs, IReadOnlyList<WireTensor> outputs)
    {
        var values = inputs.Select(t => OrtValue.CreateTensorValueFromMemory(t.ToFloats(), t.Shape)).ToList();
        try
        {
            var names = outputs.Select(o => o.Name).ToList();
            var worst = 0.0;
            using var runOptions = new RunOptions();
            using var expected = reference.Run(runOptions, [.. inputs.Select(t => t.Name)], values, names);
            for (var i = 0; i < names.Count; i++)
            {
                var want = expected[i].GetTensorDataAsSpan<float>();
                var got = outputs[i].ToFloats();
                if (want.Length != got.Length)
                {
                    return double.PositiveInfinity;
                }
                for (var j = 0; j < got.Length; j++)
                {
                    var diff = Math.Abs(want[j] - got[j]);
                    worst = double.IsNaN(diff) ? double.PositiveInfinity : Math.Max(worst, diff);
                }
            }
            return worst;
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    private static long[] ConcreteShape(ModelInputSpec spec) => spec.Shape is null
        ? throw new BadInputException($"input '{spec.Name}' has no declared shape, so no request can be built for it")
        : [.. spec.Shape.Select(d => d ?? 1L)];

    private static IReadOnlyList<WireTensor> RandomInputs(IReadOnlyList<ModelInputSpec> specs, int seed)
    {
        var random = new Random(seed);
        return [.. specs.Select(spec =>
        {
            if (spec.ElementType != TensorElementType.Float)
            {
                throw new BadInputException($"input '{spec.Name}' is {spec.ElementType}; --random only makes float inputs");
            }
            var shape = ConcreteShape(spec);
            var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = (float)((random.NextDouble() * 2) - 1);
            }
            return WireTensor.FromFloats(spec.Name, shape, values);
        })];
    }

    private static Func<int, IReadOnlyList<WireTensor>> LoadImage(FileInfo file, IReadOnlyList<ModelInputSpec> specs)
    {
        if (specs.Count != 1)
        {
            throw new BadInputException($"the model takes {specs.Count} inputs; --input IMAGE needs exactly one, use --random");
        }
        var image = ImageInput.Load(file.FullName, specs[0].Name, ConcreteShape(specs[0]));
        var tensor = new WireTensor(image.Name, image.ElementType, image.Shape, image.Data);
        return _ => [tensor];
    }
}
