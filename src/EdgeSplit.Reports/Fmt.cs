using System.Globalization;

namespace EdgeSplit.Reports;

/// <summary>Number formatting shared by markdown, CSV and plot labels, culture-invariant.</summary>
internal static class Fmt
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string X(double ratio) => ratio.ToString("0.00", Inv) + "x";

    public static string Ms(double ms) => Num(ms) + " ms";

    public static string J(double joules) => Num(joules) + " J";

    /// <summary>Three significant figures or so, without exponent noise for everyday magnitudes.</summary>
    public static string Num(double value)
    {
        if (!double.IsFinite(value))
        {
            return "n/a";
        }
        var abs = Math.Abs(value);
        var format = abs >= 100 ? "0" : abs >= 10 ? "0.0" : abs >= 1 ? "0.00" : abs == 0 ? "0" : "0.000";
        return value.ToString(format, Inv);
    }

    /// <summary>Round-trippable number for machine-readable files.</summary>
    public static string Raw(double value) => value.ToString("R", Inv);

    public static string Raw(long value) => value.ToString(Inv);

    /// <summary>Escapes a value for a markdown table cell.</summary>
    public static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
}
