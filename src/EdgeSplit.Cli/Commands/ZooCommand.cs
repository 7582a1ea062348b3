using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EdgeSplit.Graph;
using EdgeSplit.Zoo;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary><c>edgesplit zoo NAME|all --out DIR</c>: writes the models of Table 4.1 (and the pretrained ResNet18) as DIR/NAME.onnx.</summary>
internal static class ZooCommand
{
    private const string All = "all";

    public static Command Create()
    {
        var name = new Argument<string>("NAME")
        {
            Description = $"A zoo model ({string.Join(", ", ModelZoo.Names)}) or '{All}'.",
        };
        var output = new Option<string>("--out") { Description = "Folder to write NAME.onnx into.", Required = true };
        var json = CommonOptions.Json();
        var command = new Command("zoo", "Write the zoo models (Table 4.1 architectures with seeded weights, and the ImageNet ResNet18) as ONNX files.")
        {
            name, output, json,
        };
        CommandRunner.SetAction(command, (parse, cancellation) =>
        {
            var names = Select(parse.GetValue(name)!);
            var written = new List<ZooModelFile>();
            using (var folder = new OutputDirectory(parse.GetValue(output)!))
            {
                foreach (var model in names)
                {
                    cancellation.ThrowIfCancellationRequested();
                    var stopwatch = Stopwatch.StartNew();
                    var file = ModelZoo.Write(model, folder.PathOf($"{model}.onnx"));
                    Terminal.Err.MarkupLine($"[grey]wrote {model}.onnx ({Terminal.Bytes(file.FileBytes)}) in {stopwatch.Elapsed.TotalSeconds:F1} s[/]");
                    written.Add(file with { Path = Path.Combine(folder.Target, Path.GetFileName(file.Path)) });
                }
                folder.Commit();
            }

            if (parse.GetValue(json))
            {
                Terminal.WriteJson(new
                {
                    Models = written.Select(f => new { f.Name, Parameters = f.ParameterCount, Bytes = f.FileBytes, File = f.Path }),
                });
                return Task.FromResult(ExitCodes.Ok);
            }
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn("name")
                .AddColumn(new TableColumn("parameters").RightAligned())
                .AddColumn(new TableColumn("size MB").RightAligned())
                .AddColumn("file");
            foreach (var f in written)
            {
                table.AddRow(
                    f.Name,
                    f.ParameterCount.ToString("N0", CultureInfo.InvariantCulture),
                    (f.FileBytes / 1e6).ToString("F1", CultureInfo.InvariantCulture),
                    Markup.Escape(f.Path));
            }
            Terminal.Out.Write(table);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static IReadOnlyList<string> Select(string name)
    {
        if (name == All)
        {
            return ModelZoo.Names;
        }
        if (!ModelZoo.Names.Contains(name))
        {
            throw new BadInputException($"unknown zoo model '{name}'; choose one of: {string.Join(", ", ModelZoo.Names)}, or '{All}'");
        }
        return [name];
    }
}
