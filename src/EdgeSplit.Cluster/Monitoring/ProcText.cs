using Microsoft.Win32.SafeHandles;

namespace EdgeSplit.Cluster.Monitoring;

/// <summary>
/// Reads small kernel text files (/proc, /sys) into one reused buffer and parses numbers straight
/// from bytes, so sampling four times a second allocates next to nothing.
/// </summary>
internal sealed class ProcText
{
    private byte[] buffer = new byte[16 * 1024];

    /// <summary>Reads the whole file; returns false if it does not exist or cannot be read.</summary>
    public bool TryRead(string path, out ReadOnlySpan<byte> text)
    {
        text = default;
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var total = 0;
            while (true)
            {
                if (total == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
                var read = RandomAccess.Read(handle, buffer.AsSpan(total), total);
                if (read <= 0)
                {
                    break;
                }
                total += read;
            }
            text = buffer.AsSpan(0, total);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Reads a file holding one integer (sysfs style); null if absent or not a number.</summary>
    public long? ReadLong(string path)
    {
        if (!TryRead(path, out var text))
        {
            return null;
        }
        var pos = 0;
        return TryNextLong(text, ref pos, out var value) ? value : null;
    }

    /// <summary>Skips to the next run of digits (with an optional minus) and parses it.</summary>
    public static bool TryNextLong(ReadOnlySpan<byte> text, ref int pos, out long value)
    {
        value = 0;
        while (pos < text.Length && !IsDigit(text[pos]) && !(text[pos] == (byte)'-' && pos + 1 < text.Length && IsDigit(text[pos + 1])))
        {
            if (text[pos] == (byte)'\n')
            {
                return false;
            }
            pos++;
        }
        if (pos >= text.Length)
        {
            return false;
        }
        var negative = text[pos] == (byte)'-';
        if (negative)
        {
            pos++;
        }
        while (pos < text.Length && IsDigit(text[pos]))
        {
            value = (value * 10) + (text[pos] - (byte)'0');
            pos++;
        }
        if (negative)
        {
            value = -value;
        }
        return true;
    }

    /// <summary>Returns the next line (without its newline) starting at <paramref name="pos"/>.</summary>
    public static bool NextLine(ReadOnlySpan<byte> text, ref int pos, out ReadOnlySpan<byte> line)
    {
        line = default;
        if (pos >= text.Length)
        {
            return false;
        }
        var end = text[pos..].IndexOf((byte)'\n');
        line = end < 0 ? text[pos..] : text.Slice(pos, end);
        pos = end < 0 ? text.Length : pos + end + 1;
        return true;
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';
}
