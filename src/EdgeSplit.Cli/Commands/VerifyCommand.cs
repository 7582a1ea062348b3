using System.CommandLine;
using System.Globalization;
using EdgeSplit.Graph;
using EdgeSplit.Graph.Tiling;
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
        var cuts = new Option<string>("--cuts") { Description = "'all', or how many cuts spread over the model (with --tiles: over the tileable cuts) to check.", DefaultValueFactory = _ => "all" };
        var threads = ModelOptions.Threads();
        var seed = ModelOptions.Seed();
        var compress = new Option<string>("--compress")
        {
            Description = "Compress feature maps on each hop as the runtime would (none, fp16, int8) and report the error it causes.",
            DefaultValueFactory = _ => "none",
        };
        var tiles = new Option<string?>("--tiles")
        {
            Description = "Check tile groups instead: RxC tiles (2x2), or weights per row and column (3,1x1,1), gathered at each tileable cut.",
        };
        var upto = new Option<string?>("--upto")
        {
            Description = "With --tiles: the cut the tiles run up to, or 'all' tileable cuts (spread over --cuts N).",
        };
        var json = CommonOptions.Json();
        var providers = new ProviderOptions();
        var command = new Command("verify", "Check that the chained partitions reproduce the monolithic output (max abs diff <= 1e-4) at every cut.")
        {
            model, inputShape, cuts, threads, seed, compress, tiles, upto, json,
        };
        providers.AddTo(command);
        CommandRunner.SetAction(command, (parse, cancellation) =>
        {
            var provider = providers.Parse(parse);
            var tileSpec = parse.GetValue(tiles);
            if (tileSpec is null && parse.GetValue(upto) is not null)
            {
                throw new BadInputException("--upto needs --tiles: it says how far the tiles run");
            }
            var onnx = ModelOptions.Load(parse.GetValue(model)!);
            var shapes = InputShapes.Resolve(onnx, parse.GetValue(inputShape));
            var inputs = RandomInputs.Create(onnx, shapes, parse.GetValue(seed));
            var threadCount = ModelOptions.CheckThreads(parse.GetValue(threads));
            var asJson = parse.GetValue(json);
            var compression = FeatureMapCodec.Parse(parse.GetValue(compress));
            if (tileSpec is not null)
            {
                if (compression != FeatureMapCompression.None)
                {
                    throw new BadInputException("--compress and --tiles do not combine: tiled verification checks the lossless tile group");
                }
                var grid = TileGrid.Parse(tileSpec);
                var analysis = SpatialAnalysis.Analyse(onnx, shapes);
                var (tileCuts, tooFine) = TileCuts(analysis, grid, parse.GetValue(upto), ParseCount(parse.GetValue(cuts)!));
                return Task.FromResult(VerifyTiles(analysis, tileCuts, tooFine, grid, inputs, threadCount, asJson, cancellation));
            }
            var selected = Verifier.SpreadCuts(onnx, ParseCount(parse.GetValue(cuts)!));
            Func<TensorData, TensorData>? onHop = compression == FeatureMapCompression.None ? null : t => FeatureMapCodec.RoundTrip(t, compression);

            var types = ObservedTypes(onnx, inputs, threadCount);
            var report = WithProgress($"verify {Path.GetFileName(onnx.DisplayName)}", selected.Count,
                step => Verifier.Verify(onnx, selected, inputs, threadCount, onHop, types, _ => step(), cancellation, provider));
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

    /// <summary>The tileable cuts to check: the one <c>--upto</c> names, or all the grid fits (spread over <c>--cuts N</c>), and those it is too fine for.</summary>
    private static (IReadOnlyList<int> Cuts, IReadOnlyList<(int Cut, string Reason)> TooFine) TileCuts(SpatialAnalysis analysis, TileGrid grid, string? upto, int? count)
    {
        var name = analysis.Model.DisplayName;
        if (upto is not null && !upto.Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            if (!int.TryParse(upto, NumberStyles.None, CultureInfo.InvariantCulture, out var cut))
            {
                throw new BadInputException($"--upto must be a cut index or 'all', got '{upto}'");
            }
            if (count is not null)
            {
                throw new BadInputException("--upto CUT checks one cut; drop --cuts, or use --upto all --cuts N");
            }
            if (analysis.WhyNotTileable(cut) is { } why)
            {
                var tileable = analysis.TileableCuts;
                throw new BadInputException(tileable.Count == 0
                    ? $"cut {cut} of '{name}' is not tileable: {why}; no cut of it is"
                    : $"cut {cut} of '{name}' is not tileable: {why}; tileable cuts are {Ranges(tileable)}");
            }
            TileLayout.Compute(analysis, cut, grid);
            return ([cut], []);
        }
        if (analysis.TileableCuts.Count == 0)
        {
            throw new BadInputException($"no cut of '{name}' is tileable; cut 0: {analysis.WhyNotTileable(0)}");
        }
        var (cuts, tooFine) = TiledVerifier.CutsFor(analysis, grid, count);
        if (cuts.Count == 0)
        {
            throw new BadInputException($"a {grid} grid is too fine for every tileable cut of '{name}' ({tooFine[0].Reason}); use fewer tiles");
        }
        return (cuts, tooFine);
    }

    private static int VerifyTiles(SpatialAnalysis analysis, IReadOnlyList<int> tileCuts, IReadOnlyList<(int Cut, string Reason)> tooFine, TileGrid grid, IReadOnlyList<TensorData> inputs, int threads, bool asJson, CancellationToken cancellation)
    {
        var onnx = analysis.Model;
        var types = ObservedTypes(onnx, inputs, threads);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var report = WithProgress($"verify {Path.GetFileName(onnx.DisplayName)} {grid} tiles", tileCuts.Count,
            step => TiledVerifier.Verify(analysis, tileCuts, grid, inputs, threads, types, _ => step(), cancellation));
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        var checks = report.Checks;
        if (asJson)
        {
            Terminal.WriteJson(new
            {
                Model = onnx.DisplayName,
                Tiles = grid.ToString(),
                report.CutsChecked,
                TileableCuts = analysis.TileableCuts.Count,
                TooFine = tooFine.Select(t => new { t.Cut, t.Reason }),
                report.MaxAbsDiff,
                Tolerance = Verifier.AbsoluteTolerance,
                report.Passed,
                HaloOverheadPercent = new
                {
                    Min = checks.Count == 0 ? 0 : checks.Min(c => c.HaloOverheadPercent),
                    Max = checks.Count == 0 ? 0 : checks.Max(c => c.HaloOverheadPercent),
                },
                PrefixEnd = analysis.PrefixEndReason,
                Seconds = Math.Round(seconds, 2),
                Cuts = checks.Select(c => new
                {
                    c.Cut,
                    After = onnx.Cuts[c.Cut].NodeName,
                    c.MaxAbsDiff,
                    c.Tolerance,
                    c.Passed,
                    c.UntiledFlops,
                    c.TiledFlops,
                    c.HaloOverheadPercent,
                    Seconds = Math.Round(c.Elapsed.TotalSeconds, 3),
                }),
            });
        }
        else
        {
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn(new TableColumn("cut").RightAligned()).AddColumn("after node").AddColumn("op")
                .AddColumn(new TableColumn("max abs diff").RightAligned()).AddColumn(new TableColumn("halo FLOPs").RightAligned()).AddColumn("result");
            foreach (var c in checks)
            {
                var cut = onnx.Cuts[c.Cut];
                table.AddRow(
                    c.Cut.ToString(CultureInfo.InvariantCulture), Markup.Escape(cut.NodeName), Markup.Escape(cut.OpType),
                    c.MaxAbsDiff.ToString("E2", CultureInfo.InvariantCulture), $"+{c.HaloOverheadPercent.ToString("F1", CultureInfo.InvariantCulture)} %",
                    c.Passed ? "[green]pass[/]" : $"[red]FAIL (> {c.Tolerance:E1})[/]");
            }
            Terminal.Out.Write(table);
            var overhead = checks.Count == 0 ? "" : $", halo overhead {checks.Min(c => c.HaloOverheadPercent).ToString("F1", CultureInfo.InvariantCulture)}..{checks.Max(c => c.HaloOverheadPercent).ToString("F1", CultureInfo.InvariantCulture)} % extra conv/pool FLOPs";
            Terminal.Out.MarkupLine(
                $"{(report.Passed ? "[green]PASS[/]" : "[red]FAIL[/]")} {Markup.Escape(onnx.DisplayName)}: {report.CutsChecked} of {analysis.TileableCuts.Count} tileable cuts checked with {grid} tiles in {seconds.ToString("F1", CultureInfo.InvariantCulture)} s, " +
                $"max abs diff {report.MaxAbsDiff.ToString("E3", CultureInfo.InvariantCulture)} (tolerance {Verifier.AbsoluteTolerance:E0}, scaled by magnitude above 1){overhead}");
            if (tooFine.Count > 0)
            {
                Terminal.Out.MarkupLine($"{tooFine.Count} tileable cuts skipped, the grid too fine for them ({Markup.Escape(Ranges([.. tooFine.Select(t => t.Cut)]))}): {Markup.Escape(tooFine[0].Reason)}");
            }
            if (analysis.PrefixEndReason is { } end)
            {
                Terminal.Out.MarkupLine($"tiles end at {Markup.Escape(end)}");
            }
        }
        return report.Passed ? ExitCodes.Ok : ExitCodes.CheckFailed;
    }

    /// <summary>Types observed in one real run: they cover operators the static rules do not know.</summary>
    private static IReadOnlyDictionary<string, Onnx.TensorProto.Types.DataType> ObservedTypes(OnnxModel onnx, IReadOnlyList<TensorData> inputs, int threads)
    {
        CutProfiler.Measure(onnx, inputs, threads, out var facts);
        return CutProfiler.ElementTypes(facts);
    }

    /// <summary>Runs <paramref name="work"/> under a progress bar on stderr of <paramref name="steps"/> steps.</summary>
    private static T WithProgress<T>(string label, int steps, Func<Action, T> work)
    {
        T result = default!;
        Terminal.Err.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(label, maxValue: Math.Max(1, steps));
                result = work(() => task.Increment(1));
            });
        return result;
    }

    /// <summary>Cut indices as ranges: <c>0..51, 53</c>.</summary>
    internal static string Ranges(IReadOnlyList<int> cuts)
    {
        var parts = new List<string>();
        for (var i = 0; i < cuts.Count;)
        {
            var j = i;
            while (j + 1 < cuts.Count && cuts[j + 1] == cuts[j] + 1)
            {
                j++;
            }
            parts.Add(j == i ? cuts[i].ToString(CultureInfo.InvariantCulture) : $"{cuts[i]}..{cuts[j]}");
            i = j + 1;
        }
        return string.Join(", ", parts);
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
