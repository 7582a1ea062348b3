using System.CommandLine;
using System.Globalization;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Codec;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary><c>edgesplit verify</c>: proves chained partitions give the monolithic output at every cut.</summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var inputShape = ModelOptions.InputShape();
        var cuts = new Option<string>("--cuts") { Description = "'all', or how many cuts spread over the model to check.", DefaultValueFactory = _ => "all" };
        var threads = ModelOptions.Threads();
        var seed = ModelOptions.Seed();
        var compress = new Option<string>("--compress")
        {
            Description = "Compress feature maps on each hop as the runtime would (none, fp16, int8) and report the error it causes.",
            DefaultValueFactory = _ => "none",
        };
        var json = CommonOptions.Json();
        var providers = new ProviderOptions();
        var command = new Command("verify", "Check that the chained partitions reproduce the monolithic output (max abs diff <= 1e-4) at every cut.")
        {
            model, inputShape, cuts, threads, seed, compress, json,
        };
        providers.AddTo(command);
        CommandRunner.SetAction(command, (parse, cancellation) =>
        {
            var provider = providers.Parse(parse);
            var onnx = ModelOptions.Load(parse.GetValue(model)!);
            var inputs = RandomInputs.Create(onnx, InputShapes.Resolve(onnx, parse.GetValue(inputShape)), parse.GetValue(seed));
            var selected = Verifier.SpreadCuts(onnx, ParseCount(parse.GetValue(cuts)!));
            var threadCount = ModelOptions.CheckThreads(parse.GetValue(threads));
            var asJson = parse.GetValue(json);
            var compression = FeatureMapCodec.Parse(parse.GetValue(compress));
            Func<TensorData, TensorData>? onHop = compression == FeatureMapCompression.None ? null : t => FeatureMapCodec.RoundTrip(t, compression);

            // Types observed in one real run cover operators the static rules do not know.
            CutProfiler.Measure(onnx, inputs, threadCount, out var facts);
            var types = CutProfiler.ElementTypes(facts);
            VerifyReport report = null!;
            Terminal.Err.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask($"verify {Path.GetFileName(onnx.DisplayName)}", maxValue: Math.Max(1, selected.Count));
                    report = Verifier.Verify(onnx, selected, inputs, threadCount, onHop, types, _ => task.Increment(1), cancellation, provider);
                });
            if (ProviderOptions.FallbackWarning(report.Provider) is { } warning)
            {
                Console.Error.WriteLine(warning);
            }

            if (asJson)
            {
                Terminal.WriteJson(new
                {
                    Model = onnx.DisplayName,
                    Provider = report.Provider.Used,
                    report.CutsChecked,
                    report.MaxAbsDiff,
                    Tolerance = Verifier.AbsoluteTolerance,
                    Compression = FeatureMapCodec.Name(compression),
                    Lossless = compression == FeatureMapCompression.None,
                    report.Passed,
                    Failed = report.Checks.Where(c => !c.Passed).Select(c => new { c.Cut, c.MaxAbsDiff, c.Tolerance }),
                });
            }
            else
            {
                foreach (var failed in report.Checks.Where(c => !c.Passed))
                {
                    Terminal.Out.MarkupLine($"[red]cut {failed.Cut}: max abs diff {failed.MaxAbsDiff:E3} > {failed.Tolerance:E1}[/]");
                }
                var verdict = compression != FeatureMapCompression.None
                    ? $"[yellow]{FeatureMapCodec.Name(compression)} (lossy)[/]"
                    : report.Passed ? "[green]PASS[/]" : "[red]FAIL[/]";
                Terminal.Out.MarkupLine(
                    $"{verdict} {Markup.Escape(onnx.DisplayName)}: {report.CutsChecked} cuts checked, max abs diff {report.MaxAbsDiff.ToString("E3", CultureInfo.InvariantCulture)} (tolerance {Verifier.AbsoluteTolerance:E0}, scaled by output magnitude above 1)");
            }
            // Lossy compression is expected to exceed the lossless tolerance: then verify reports, it does not judge.
            return Task.FromResult(report.Passed || compression != FeatureMapCompression.None ? ExitCodes.Ok : ExitCodes.CheckFailed);
        });
        return command;
    }

    private static int? ParseCount(string text)
    {
        if (text.Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new BadInputException($"--cuts must be 'all' or a positive number, got '{text}'");
    }
}
