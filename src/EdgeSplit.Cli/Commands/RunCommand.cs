using System.CommandLine;
using System.Globalization;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Providers;
using Google.Protobuf;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary><c>edgesplit run</c>: the whole model on this device, the single-device baseline.</summary>
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
        var json = CommonOptions.Json();
        var providers = new ProviderOptions();
        var command = new Command("run", "Run the whole model on this device: latency p50/p95 and the top-5 classes.")
        {
            model, input, random, count, inputShape, threads, seed, json,
        };
        providers.AddTo(command);
        CommandRunner.SetAction(command, (parse, cancellation) =>
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
                return Task.FromResult(ExitCodes.Ok);
            }
            Terminal.Out.MarkupLine(
                $"[bold]{Markup.Escape(onnx.DisplayName)}[/] on this device, {Markup.Escape(result.Provider.Used)}, {threadCount} thread(s): " +
                $"p50 {result.Latency.P50Ms.ToString("F2", CultureInfo.InvariantCulture)} ms, p95 {result.Latency.P95Ms.ToString("F2", CultureInfo.InvariantCulture)} ms " +
                $"over {result.Latency.Count} runs after {result.WarmupRuns} warm-up runs");
            if (result.Top5.Count > 0)
            {
                Terminal.Out.MarkupLine("top-5: " + string.Join(", ", result.Top5.Zip(result.Top5Scores, (i, s) => $"{i} ({s.ToString("F3", CultureInfo.InvariantCulture)})")));
            }
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}
