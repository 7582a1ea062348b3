using System.Buffers.Binary;
using SkiaSharp;

namespace EdgeSplit.Reports.Tests;

/// <summary>Checks that a file is a real, decodable PNG with something drawn on it.</summary>
internal static class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Width and height from the IHDR chunk, read straight from the bytes.</summary>
    public static (int Width, int Height) HeaderSize(byte[] bytes)
    {
        Assert.True(bytes.Length > 33, "file too short to be a PNG");
        Assert.Equal(Signature, bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    /// <summary>Standard deviation of luminance (0..255) and the number of distinct colours, over every pixel.</summary>
    public static (double LuminanceStdDev, int DistinctColors) Content(byte[] bytes)
    {
        using var bitmap = SKBitmap.Decode(bytes);
        Assert.NotNull(bitmap);
        var pixels = bitmap.Pixels;
        var colors = new HashSet<uint>();
        double sum = 0, sumSquares = 0;
        foreach (var p in pixels)
        {
            var luminance = 0.2126 * p.Red + 0.7152 * p.Green + 0.0722 * p.Blue;
            sum += luminance;
            sumSquares += luminance * luminance;
            colors.Add((uint)p);
        }
        var mean = sum / pixels.Length;
        return (Math.Sqrt(Math.Max(0, sumSquares / pixels.Length - mean * mean)), colors.Count);
    }

    /// <summary>How many pixels are within <paramref name="tolerance"/> per channel of the colour (r, g, b).</summary>
    public static int CountNear(byte[] bytes, (byte R, byte G, byte B) color, int tolerance = 12)
    {
        using var bitmap = SKBitmap.Decode(bytes);
        Assert.NotNull(bitmap);
        return bitmap.Pixels.Count(p =>
            Math.Abs(p.Red - color.R) <= tolerance && Math.Abs(p.Green - color.G) <= tolerance && Math.Abs(p.Blue - color.B) <= tolerance);
    }
}
