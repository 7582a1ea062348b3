using ScottPlot;

namespace EdgeSplit.Reports;

/// <summary>One bar of a bar chart, with its tick label and the text printed above it.</summary>
internal sealed record BarSpec(string Label, double Value, Color Color, string ValueLabel);

/// <summary>Shared look of every PNG: size, fonts, colours per strategy, bar charts.</summary>
internal static class Charts
{
    public const int WidthPx = 1100;
    public const int HeightPx = 620;

    private static readonly Color[] StrategyColors =
    [
        Color.FromHex("#7f7f7f"), // single
        Color.FromHex("#1f77b4"), // static
        Color.FromHex("#ff7f0e"), // greedy
        Color.FromHex("#2ca02c"), // optimal
        Color.FromHex("#d62728"), // rl
        Color.FromHex("#9467bd"), // oracle
        Color.FromHex("#8c564b"), // tiles
    ];

    /// <summary>
    /// ScottPlot's "sans" resolves to DejaVu Serif on Debian without fontconfig; pick a real sans face when
    /// one is installed, else whatever ScottPlot finds.
    /// </summary>
    private static readonly Lazy<string> SansFamily = new(() =>
    {
        var installed = SkiaSharp.SKFontManager.Default.FontFamilies.ToHashSet(StringComparer.OrdinalIgnoreCase);
        return new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }.FirstOrDefault(installed.Contains) ?? Fonts.Default;
    });

    public static string FontFamily => SansFamily.Value;

    public static Color Of(Strategy strategy) => StrategyColors[(int)strategy % StrategyColors.Length];

    public static Color Series(int index) => new ScottPlot.Palettes.Category10().GetColor(index);

    public static Plot New(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set(FontFamily, FontWeight.Normal, FontSlant.Upright, FontSpacing.Normal);
        plot.Title(title, size: 20);
        plot.Axes.Title.Label.Bold = true;
        plot.XLabel(xLabel, size: 16);
        plot.YLabel(yLabel, size: 16);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        return plot;
    }

    public static void Save(Plot plot, string path) => plot.SavePng(path, WidthPx, HeightPx);

    /// <summary>Suffix for titles so a reader of the picture alone knows what is not measured on real hardware.</summary>
    public static string Labels(bool emulated, bool estimated)
    {
        var labels = new List<string>();
        if (estimated)
        {
            labels.Add("estimated");
        }
        if (emulated)
        {
            labels.Add("emulated devices");
        }
        return labels.Count == 0 ? "" : $" ({string.Join(", ", labels)})";
    }

    public static void AddBars(Plot plot, IReadOnlyList<BarSpec> bars)
    {
        var items = bars.Select((b, i) => new Bar
        {
            Position = i,
            Value = double.IsFinite(b.Value) ? b.Value : 0,
            FillColor = b.Color,
            Label = b.ValueLabel,
        }).ToList();
        var barPlot = plot.Add.Bars(items);
        barPlot.ValueLabelStyle.FontSize = 14;
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, bars.Count).Select(i => (double)i).ToArray(), bars.Select(b => b.Label).ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.HideGrid();
        // Bars start at zero; the top margin leaves room for the value labels.
        plot.Axes.Margins(left: 0.1, right: 0.1, bottom: 0, top: 0.15);
    }
}
