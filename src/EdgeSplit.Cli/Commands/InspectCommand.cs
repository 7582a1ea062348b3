using System.CommandLine;
using EdgeSplit.Graph.Tiling;
using EdgeSplit.Runtime;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary><c>edgesplit inspect</c>: every valid cut of a model and the bytes that cross it.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var inputShape = ModelOptions.InputShape();
        var threads = ModelOptions.Threads();
        var json = CommonOptions.Json();
        var command = new Command("inspect", "List every valid cut of an ONNX model with the bytes that cross it (measured in one ONNX Runtime run).")
        {
            model, inputShape, threads, json,
        };
        CommandRunner.SetAction(command, (parse, cancellation) =>
        {
            var onnx = ModelOptions.Load(parse.GetValue(model)!);
            var shapes = InputShapes.Resolve(onnx, parse.GetValue(inputShape));
            var inputs = RandomInputs.Create(onnx, shapes, seed: 1);
            var sizes = CutProfiler.Measure(onnx, inputs, ModelOptions.CheckThreads(parse.GetValue(threads)), out _);
            var cumulative = onnx.CumulativeParameters;
            var tiling = SpatialAnalysis.Analyse(onnx, shapes);
            var tileable = tiling.TileableCuts.ToHashSet();

            if (parse.GetValue(json))
            {
                Terminal.WriteJson(new
                {
                    Model = onnx.DisplayName,
                    Opset = onnx.OpsetVersion,
                    Parameters = onnx.ParameterCount,
                    Nodes = onnx.Nodes.Count,
                    Inputs = inputs.Select(i => new { i.Name, Shape = i.Shape, Type = i.ElementType.ToString() }),
                    Outputs = onnx.OutputNames,
                    Tiling = new { Cuts = VerifyCommand.Ranges(tiling.TileableCuts), PrefixEnd = tiling.PrefixEndReason },
                    Cuts = sizes.Select(s => new
                    {
                        s.Cut.Index,
                        After = s.Cut.NodeName,
                        Op = s.Cut.OpType,
                        Tensors = s.Cut.Tensors,
                        Shapes = s.Tensors.Select(t => t.Shape),
                        s.Bytes,
                        CumulativeParameters = cumulative[s.Cut.AfterNode],
                        Tileable = tileable.Contains(s.Cut.Index),
                    }),
                });
                return Task.FromResult(ExitCodes.Ok);
            }

            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn(new TableColumn("cut").RightAligned())
                .AddColumn("after node")
                .AddColumn("op")
                .AddColumn("tensors")
                .AddColumn(new TableColumn("bytes").RightAligned())
                .AddColumn(new TableColumn("params so far").RightAligned())
                .AddColumn("tiles");
            foreach (var s in sizes)
            {
                var tensors = string.Join(", ", s.Tensors.Select(t => $"{t.Name} [{string.Join('x', t.Shape)}]"));
                table.AddRow(
                    s.Cut.Index.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Markup.Escape(s.Cut.NodeName),
                    s.Cut.OpType,
                    Markup.Escape(tensors),
                    Terminal.Bytes(s.Bytes),
                    cumulative[s.Cut.AfterNode].ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                    tileable.Contains(s.Cut.Index) ? "yes" : "");
            }
            Terminal.Out.Write(table);
            var smallest = sizes.Count == 0 ? null : sizes.MinBy(s => s.Bytes);
            Terminal.Out.MarkupLine(
                $"[bold]{Markup.Escape(onnx.DisplayName)}[/]: opset {onnx.OpsetVersion}, {onnx.Nodes.Count} nodes, " +
                $"{onnx.ParameterCount.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} parameters, {sizes.Count} cuts" +
                (smallest is null ? "" : $"; smallest cut {smallest.Cut.Index} ({Terminal.Bytes(smallest.Bytes)})") +
                $"; inputs {Markup.Escape(string.Join(", ", inputs.Select(i => $"{i.Name} {i.ShapeText}")))}");
            Terminal.Out.MarkupLine(tiling.TileableCuts.Count == 0
                ? $"no cut is tileable: {Markup.Escape(tiling.PrefixEndReason ?? "")}"
                : $"tileable cuts {VerifyCommand.Ranges(tiling.TileableCuts)}" + (tiling.PrefixEndReason is { } end ? $"; tiles end at {Markup.Escape(end)}" : ""));
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}
