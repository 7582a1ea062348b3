using System.Diagnostics;
using EdgeSplit.Graph;
using EdgeSplit.Graph.Tiling;
using EdgeSplit.Runtime;

namespace EdgeSplit.Planning;

/// <summary>Builds a model's <see cref="TilingProfile"/>: its tile geometry from the graph, and the gather's cost measured with ONNX Runtime here.</summary>
public static class TileProfiler
{
    /// <summary>
    /// The geometry of <paramref name="model"/> for <paramref name="inputs"/>' shapes, and the
    /// gather's cost per byte measured on this machine (the reference device, as for node times).
    /// </summary>
    public static TilingProfile Build(OnnxModel model, IReadOnlyList<TensorData> inputs, int intraOpThreads = 1)
    {
        var analysis = SpatialAnalysis.Analyse(model, inputs.ToDictionary(i => i.Name, i => i.Shape, StringComparer.Ordinal));
        return new TilingProfile(new GraphTileGeometry(analysis), MeasureGatherMsPerByte(analysis, inputs, intraOpThreads));
    }

    /// <summary>
    /// Median time of the 2x2 gather at the tileable cut with the largest feature maps, over its
    /// bytes (0 when no cut is tileable). Joining tiles is a copy, so its cost grows with bytes.
    /// </summary>
    public static double MeasureGatherMsPerByte(SpatialAnalysis analysis, IReadOnlyList<TensorData> inputs, int intraOpThreads = 1, int runs = 15)
    {
        var grid = TileGrid.Even(2, 2);
        var layout = analysis.TileableCuts
            .Select(c => TileLayout.TryCompute(analysis, c, grid, out _))
            .OfType<TileLayout>()
            .MaxBy(l => l.Tiles.Sum(t => t.OutputBytes));
        if (layout is null)
        {
            return 0;
        }
        var partitions = new TilePartitioner(analysis.Model).Build(layout);
        var tileOutputs = TileOutputs(partitions, inputs, intraOpThreads);
        using var gather = new ModelSession(partitions.Gather.OnnxBytes, intraOpThreads);
        gather.Run(tileOutputs);
        var ms = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            var start = Stopwatch.GetTimestamp();
            gather.Run(tileOutputs);
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(ms);
        return ms[runs / 2] / Math.Max(1, layout.Tiles.Sum(t => t.OutputBytes));
    }

    private static IReadOnlyList<TensorData> TileOutputs(TileGroupPartitions partitions, IReadOnlyList<TensorData> inputs, int intraOpThreads)
    {
        using var scatter = new ModelSession(partitions.Scatter.OnnxBytes, intraOpThreads);
        var slices = scatter.Run(inputs).ToDictionary(t => t.Name, StringComparer.Ordinal);
        var outputs = new List<TensorData>();
        foreach (var tile in partitions.Tiles)
        {
            using var session = new ModelSession(tile.OnnxBytes, intraOpThreads);
            outputs.AddRange(session.Run(slices));
        }
        return outputs;
    }
}
