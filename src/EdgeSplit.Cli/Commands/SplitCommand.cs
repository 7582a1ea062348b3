using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary><c>edgesplit split</c>: one standalone ONNX file per segment, plus plan.json.</summary>
internal static class SplitCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var at = new Option<string>("--at") { Description = "Cut indices, comma-separated (see 'edgesplit inspect').", Required = true };
        var output = new Option<string>("--out") { Description = "Folder to write the partitions and plan.json into.", Required = true };
        var inputShape = ModelOptions.InputShape();
        var json = CommonOptions.Json();
        var command = new Command("split", "Cut a model into standalone ONNX partitions at the given cuts.") { model, at, output, inputShape, json };
        CommandRunner.SetAction(command, (parse, cancellation) =>
        {
            var cuts = ParseCuts(parse.GetValue(at)!);
            var started = Stopwatch.GetTimestamp();
            var onnx = ModelOptions.Load(parse.GetValue(model)!);
            var parseMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            // Partitions of a model ONNX Runtime cannot load would only fail later, on a device.
            ModelOptions.CheckLoadable(onnx);
            started = Stopwatch.GetTimestamp();
            var partitions = SplitWithTypes(onnx, cuts, parse.GetValue(inputShape));
            var extractMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;

            using var folder = new OutputDirectory(parse.GetValue(output)!);
            var entries = new List<object>();
            foreach (var p in partitions)
            {
                var file = $"part{p.Index}.onnx";
                File.WriteAllBytes(folder.PathOf(file), p.OnnxBytes);
                entries.Add(new
                {
                    p.Index,
                    File = file,
                    FirstNode = p.FirstNode,
                    LastNode = p.LastNode,
                    p.Receives,
                    p.Inputs,
                    p.Outputs,
                    p.Forwards,
                    Bytes = p.OnnxBytes.LongLength,
                    p.Sha256,
                });
            }
            var plan = new { Model = Path.GetFileName(onnx.DisplayName), Cuts = cuts, Partitions = entries };
            File.WriteAllText(folder.PathOf("plan.json"), System.Text.Json.JsonSerializer.Serialize(plan, Terminal.JsonOptions));
            folder.Commit(ownedPattern: "part*.onnx");

            if (parse.GetValue(json))
            {
                Terminal.WriteJson(new { Out = folder.Target, plan.Model, plan.Cuts, ParseMs = parseMs, ExtractMs = extractMs, Partitions = entries });
                return Task.FromResult(ExitCodes.Ok);
            }
            var table = new Table().Border(TableBorder.Rounded).AddColumns("file", "nodes", "inputs", "outputs", "size");
            foreach (var p in partitions)
            {
                table.AddRow(
                    $"part{p.Index}.onnx",
                    $"{p.FirstNode}..{p.LastNode}",
                    Markup.Escape(string.Join(", ", p.Inputs)),
                    Markup.Escape(string.Join(", ", p.Outputs)),
                    Terminal.Bytes(p.OnnxBytes.LongLength));
            }
            Terminal.Out.Write(table);
            Terminal.Out.MarkupLine(
                $"wrote {partitions.Count} partitions and plan.json to [bold]{Markup.Escape(folder.Target)}[/] " +
                $"(parsed in {parseMs.ToString("F1", CultureInfo.InvariantCulture)} ms, extracted in {extractMs.ToString("F1", CultureInfo.InvariantCulture)} ms, measured with a stopwatch in this run)");
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    internal static IReadOnlyList<int> ParseCuts(string text)
    {
        var cuts = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var cut))
            {
                throw new BadInputException($"--at '{text}' is not a list of cut indices; write e.g. --at 12,40");
            }
            cuts.Add(cut);
        }
        if (cuts.Count == 0)
        {
            throw new BadInputException("--at needs at least one cut index, e.g. --at 12");
        }
        return cuts;
    }

    /// <summary>Splits with the statically inferred types, running the model once only if some type is unknown.</summary>
    internal static IReadOnlyList<Partition> SplitWithTypes(OnnxModel onnx, IReadOnlyList<int> cuts, string? inputShape)
    {
        try
        {
            return new Partitioner(onnx).Split(cuts);
        }
        catch (UnknownElementTypeException)
        {
            var inputs = RandomInputs.Create(onnx, InputShapes.Resolve(onnx, inputShape), seed: 1);
            CutProfiler.Measure(onnx, inputs, 1, out var facts);
            return new Partitioner(onnx, CutProfiler.ElementTypes(facts)).Split(cuts);
        }
    }
}
