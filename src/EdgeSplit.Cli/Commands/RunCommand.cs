using System.CommandLine;
using System.Globalization;
using EdgeSplit.Evaluation.PyTorch;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Providers;
using Google.Protobuf;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary>
/// <c>edgesplit run</c>: the whole model on this device, the single-device baseline, in ONNX Runtime or
/// (<c>--runtime pytorch</c>, zoo models only) in torchvision with the zoo's weights, so a distributed
/// PyTorch run can be told apart from PyTorch's own speed.
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var input = new Option<string?>("--input") { Description = "An image file (PNG, JPEG...), resized and ImageNet-normalised." };
        var random = new Option<bool>("--random") { Description = "Use a seeded random input instead of an image." };
        var count = new Option<int>("--count") { Description = "Timed runs after warm-up.", DefaultValueFactory = _ => 20 };
        var inputShape = ModelOptions.InputShape();
        var threads = ModelOptions.Threads();
        var seed = ModelOptions.Seed();
        var runtime = new Option<string>("--runtime")
        {
            Description = "onnxruntime, or pytorch (torchvision with the zoo's weights; Debian's python3-torch, installed when missing and root).",
            DefaultValueFactory = _ => "onnxruntime",
        };
        runtime.AcceptOnlyFromAmong("onnxruntime", "pytorch");
        var json = CommonOptions.Json();
        var providers = new ProviderOptions();
        var command = new Command("run", "Run the whole model on this device: latency p50/p95 and the top-5 classes.")
        {
            model, input, random, count, inputShape, threads, seed, runtime, json,
        };
        providers.AddTo(command);
        CommandRunner.SetAction(command, async (parse, cancellation) =>
        {
            var runs = parse.GetValue(count);
            if (runs is < 1 or > 100_000)
            {
                throw new BadInputException($"--count must be between 1 and 100000, got {runs}");
            }
            var imagePath = parse.GetValue(input);
            if (imagePath is not null && parse.GetValue(random))
            {
                throw new BadInputException("give either --input IMAGE or --random, not both");
            }
            var provider = providers.Parse(parse);
            var onnx = ModelOptions.Load(parse.GetValue(model)!);
            var shapes = InputShapes.Resolve(onnx, parse.GetValue(inputShape));
            IReadOnlyList<TensorData> inputs;
            if (imagePath is not null)
            {
                if (onnx.Inputs.Count != 1)
                {
                    throw new BadInputException($"--input feeds one image, but the model has {onnx.Inputs.Count} inputs; use --random");
                }
                inputs = [ImageInput.Load(imagePath, onnx.Inputs[0].Name, shapes[onnx.Inputs[0].Name])];
            }
            else
            {
                inputs = RandomInputs.Create(onnx, shapes, parse.GetValue(seed));
            }
            var threadCount = ModelOptions.CheckThreads(parse.GetValue(threads));
            if (parse.GetValue(runtime) == "pytorch")
            {
                return await RunPyTorchAsync(parse.GetValue(model)!, onnx, inputs, imagePath, runs, threadCount, parse.GetValue(json), cancellation);
            }
            var result = BaselineRunner.Run(onnx.Proto.ToByteArray(), inputs, runs, threadCount, cancellation, provider);
            if (ProviderOptions.FallbackWarning(result.Provider) is { } warning)
            {
                Console.Error.WriteLine(warning);
            }

            if (parse.GetValue(json))
            {
                Terminal.WriteJson(new
                {
                    Model = onnx.DisplayName,
                    Input = imagePath ?? "random",
                    Runtime = "onnxruntime",
                    Threads = threadCount,
                    Provider = result.Provider.Used,
                    ProviderRequested = result.Provider.Requested,
                    result.Provider.FallbackReason,
                    OrtVersion = OrtLibrary.Version,
                    OrtLibrary = OrtLibrary.MappedPath(),
                    Count = result.Latency.Count,
                    result.WarmupRuns,
                    P50Ms = result.Latency.P50Ms,
                    P95Ms = result.Latency.P95Ms,
                    MeanMs = result.Latency.MeanMs,
                    result.Top5,
                    result.Top5Scores,
                });
                return ExitCodes.Ok;
            }
            Terminal.Out.MarkupLine(
                $"[bold]{Markup.Escape(onnx.DisplayName)}[/] on this device, {Markup.Escape(result.Provider.Used)}, {threadCount} thread(s): " +
                $"p50 {result.Latency.P50Ms.ToString("F2", CultureInfo.InvariantCulture)} ms, p95 {result.Latency.P95Ms.ToString("F2", CultureInfo.InvariantCulture)} ms " +
                $"over {result.Latency.Count} runs after {result.WarmupRuns} warm-up runs");
            if (result.Top5.Count > 0)
            {
                Terminal.Out.MarkupLine("top-5: " + string.Join(", ", result.Top5.Zip(result.Top5Scores, (i, s) => $"{i} ({s.ToString("F3", CultureInfo.InvariantCulture)})")));
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<int> RunPyTorchAsync(string modelArgument, OnnxModel onnx, IReadOnlyList<TensorData> inputs, string? imagePath,
        int runs, int threadCount, bool json, CancellationToken cancellation)
    {
        var environment = await PyTorchEnvironment.EnsureAsync(message => Console.Error.WriteLine(message), cancellation);
        var scratch = Directory.CreateTempSubdirectory("edgesplit-run-pytorch-");
        try
        {
            var framesFile = Path.Combine(scratch.FullName, "frames.f32");
            PyTorchFrames.Write(framesFile, inputs);
            var options = new PyTorchSingleOptions(PyTorchRuntime.ModelFile(modelArgument, scratch.FullName), threadCount)
            {
                // The same frames and warm-up as the ONNX Runtime baseline.
                Frames = runs, Warmup = Math.Clamp(runs / 10, 2, 10), FramesFile = framesFile, OutputsKept = 0,
            };
            var result = await new PyTorchRuntime(environment).RunSingleAsync(options, cancellation);
            if (json)
            {
                Terminal.WriteJson(new
                {
                    Model = onnx.DisplayName,
                    Input = imagePath ?? "random",
                    Runtime = "pytorch",
                    result.Torch,
                    result.Torchvision,
                    result.Blas,
                    result.Threads,
                    Count = result.LatencyMs.Count,
                    WarmupRuns = result.Warmup,
                    P50Ms = result.LatencyMs.P50,
                    P95Ms = result.LatencyMs.P95,
                    MeanMs = result.LatencyMs.Mean,
                    result.CpuSeconds,
                    result.Top5,
                    result.Top5Scores,
                });
                return ExitCodes.Ok;
            }
            Terminal.Out.MarkupLine(
                $"[bold]{Markup.Escape(onnx.DisplayName)}[/] on this device in PyTorch {Markup.Escape(result.Torch)}, {result.Threads} thread(s): " +
                $"p50 {result.LatencyMs.P50?.ToString("F2", CultureInfo.InvariantCulture)} ms, p95 {result.LatencyMs.P95?.ToString("F2", CultureInfo.InvariantCulture)} ms " +
                $"over {result.LatencyMs.Count} runs after {result.Warmup} warm-up runs");
            Terminal.Out.MarkupLine("top-5: " + string.Join(", ", result.Top5.Zip(result.Top5Scores, (i, s) => $"{i} ({s.ToString("F3", CultureInfo.InvariantCulture)})")));
            return ExitCodes.Ok;
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }
}
