namespace EdgeSplit.Reports;

/// <summary>Fills a temporary sibling directory and only then moves it into place, so no reader sees half a report.</summary>
internal static class AtomicDirectory
{
    /// <summary>Runs <paramref name="fill"/> on an empty temp directory, then publishes its files to <paramref name="outDir"/>.</summary>
    /// <returns>The file names written, sorted.</returns>
    public static IReadOnlyList<string> Write(string outDir, Action<string> fill)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outDir);
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir));
        var parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"cannot write a report to the root '{target}'", nameof(outDir));
        Directory.CreateDirectory(parent);
        // A sibling of the target, so the final move is a rename on the same file system.
        var temp = Path.Combine(parent, $".{Path.GetFileName(target)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            fill(temp);
            var files = Directory.GetFiles(temp).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
            if (Directory.Exists(target) && !Directory.EnumerateFileSystemEntries(target).Any())
            {
                Directory.Delete(target);
            }
            if (!Directory.Exists(target))
            {
                Directory.Move(temp, target);
            }
            else
            {
                // The directory holds other files we must not remove: replace ours one rename at a time,
                // each file complete when it appears.
                foreach (var file in files)
                {
                    File.Move(Path.Combine(temp, file), Path.Combine(target, file), overwrite: true);
                }
                Directory.Delete(temp, recursive: true);
            }
            return files;
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: the original exception matters more than a leftover temp directory.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
