using System.Diagnostics;
using EdgeSplit.Graph;
using EdgeSplit.Graph.Tiling;
using DataType = Onnx.TensorProto.Types.DataType;

namespace EdgeSplit.Runtime;

/// <summary>
/// How one tileable cut compared: the gathered tensors against the monolithic model's at that
/// cut, and what the halos cost (conv and pool FLOPs of all tiles over the untiled prefix).
/// </summary>
public sealed record TileCheck(int Cut, double MaxAbsDiff, double Tolerance, bool Passed, double UntiledFlops, double TiledFlops, double HaloOverheadPercent, TimeSpan Elapsed);

/// <summary>The outcome of <see cref="TiledVerifier.Verify"/>.</summary>
public sealed record TiledVerifyReport(TileGrid Grid, IReadOnlyList<TileCheck> Checks)
{
    public bool Passed => Checks.All(c => c.Passed);

    public int CutsChecked => Checks.Count;

    public double MaxAbsDiff => Checks.Count == 0 ? 0 : Checks.Max(c => c.MaxAbsDiff);
}

/// <summary>
/// The proof that tiling is lossless: for each tileable cut, the tile group (scatter, tiles,
/// gather) gives the tensors the monolithic model has at that cut, within <see cref="Verifier"/>'s tolerance.
/// </summary>
public static class TiledVerifier
{
    /// <summary>
    /// The tileable cuts <paramref name="grid"/> fits (spread over <paramref name="count"/> of them;
    /// all when null), and the tileable cuts it is too fine for, with why.
    /// </summary>
    public static (IReadOnlyList<int> Cuts, IReadOnlyList<(int Cut, string Reason)> TooFine) CutsFor(SpatialAnalysis analysis, TileGrid grid, int? count)
    {
        if (count <= 0)
        {
            throw new BadInputException($"--cuts must be 'all' or a positive number, got {count}");
        }
        var fit = new List<int>();
        var tooFine = new List<(int, string)>();
        foreach (var cut in analysis.TileableCuts)
        {
            if (TileLayout.TryCompute(analysis, cut, grid, out var reason) is null)
            {
                tooFine.Add((cut, reason!));
            }
            else
            {
                fit.Add(cut);
            }
        }
        if (count is null || count >= fit.Count)
        {
            return (fit, tooFine);
        }
        return ([.. Enumerable.Range(0, count.Value).Select(i => fit[(int)((i + 0.5) * fit.Count / count.Value)]).Distinct()], tooFine);
    }

    public static TiledVerifyReport Verify(
        SpatialAnalysis analysis,
        IReadOnlyList<int> cuts,
        TileGrid grid,
        IReadOnlyList<TensorData> inputs,
        int intraOpThreads,
        IReadOnlyDictionary<string, DataType>? measuredTypes = null,
        Action<TileCheck>? progress = null,
        CancellationToken cancellation = default)
    {
        var model = analysis.Model;
        // Lay every cut out first, so a cut that is not tileable or too fine a grid fails before any work.
        var layouts = cuts.Select(c => TileLayout.Compute(analysis, c, grid)).ToList();
        var inputNames = model.Inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var exposed = layouts.SelectMany(l => model.Cuts[l.Cut].Tensors).Where(t => !inputNames.Contains(t)).Distinct(StringComparer.Ordinal).ToList();
        Dictionary<string, TensorData> reference;
        using (var whole = new ModelSession(CutProfiler.WithOutputs(model, exposed), intraOpThreads))
        {
            reference = whole.Run(inputs).ToDictionary(t => t.Name, StringComparer.Ordinal);
        }
        foreach (var input in inputs)
        {
            reference.TryAdd(input.Name, input);
        }
        var partitioner = new TilePartitioner(model, measuredTypes);
        var checks = new List<TileCheck>(layouts.Count);
        foreach (var layout in layouts)
        {
            cancellation.ThrowIfCancellationRequested();
            var started = Stopwatch.GetTimestamp();
            using var runner = new TileGroupRunner(partitioner.Build(layout), intraOpThreads);
            var gathered = runner.Run(inputs).ToDictionary(t => t.Name, StringComparer.Ordinal);
            var expected = model.Cuts[layout.Cut].Tensors.Select(t => reference[t]).ToList();
            var compared = Verifier.Compare(layout.Cut, expected, gathered);
            var check = new TileCheck(layout.Cut, compared.MaxAbsDiff, compared.Tolerance, compared.Passed,
                layout.UntiledFlops, layout.TiledFlops, layout.HaloOverheadPercent, Stopwatch.GetElapsedTime(started));
            checks.Add(check);
            progress?.Invoke(check);
        }
        return new TiledVerifyReport(grid, checks);
    }
}
