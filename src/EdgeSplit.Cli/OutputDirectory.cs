using System.Diagnostics;
using EdgeSplit.Graph;

namespace EdgeSplit.Cli;

/// <summary>
/// Writes a set of files all or nothing: into a hidden staging folder beside the target, then
/// moved into place, so a failure or Ctrl-C never leaves a half-written output folder. Staging
/// folders left by a process that was killed are removed the next time one is made beside them.
/// </summary>
public sealed class OutputDirectory : IDisposable
{
    private bool _committed;

    public OutputDirectory(string target)
    {
        if (File.Exists(target))
        {
            throw new BadInputException($"--out '{target}' is a file; give a folder");
        }
        Target = Path.GetFullPath(target);
        var parent = Path.GetDirectoryName(Target) ?? ".";
        try
        {
            Directory.CreateDirectory(parent);
            RemoveAbandonedStaging(parent, Path.GetFileName(Target));
            Staging = Path.Combine(parent, $".{Path.GetFileName(Target)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(Staging);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"cannot write to '{target}': {ex.Message}", ex);
        }
    }

    public string Target { get; }

    /// <summary>Where to write; becomes <see cref="Target"/> on <see cref="Commit"/>.</summary>
    public string Staging { get; }

    public string PathOf(string fileName) => Path.Combine(Staging, fileName);

    /// <summary>
    /// Moves every staged file into the target folder (created if needed). Files already there that match
    /// <paramref name="ownedPattern"/> (e.g. <c>part*.onnx</c>) but were not written now are removed, so an
    /// earlier output does not linger beside the new one.
    /// </summary>
    public void Commit(string? ownedPattern = null)
    {
        if (!Directory.Exists(Target))
        {
            Directory.Move(Staging, Target);
        }
        else
        {
            var written = Directory.GetFiles(Staging).Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
            if (ownedPattern is not null)
            {
                foreach (var stale in Directory.GetFiles(Target, ownedPattern).Where(f => !written.Contains(Path.GetFileName(f))))
                {
                    File.Delete(stale);
                }
            }
            foreach (var file in Directory.GetFiles(Staging))
            {
                File.Move(file, Path.Combine(Target, Path.GetFileName(file)), overwrite: true);
            }
            Directory.Delete(Staging, recursive: true);
        }
        _committed = true;
    }

    public void Dispose()
    {
        if (!_committed && Directory.Exists(Staging))
        {
            Directory.Delete(Staging, recursive: true);
        }
    }

    /// <summary>Staging folders of this target whose process no longer runs: a kill mid-way left them.</summary>
    private static void RemoveAbandonedStaging(string parent, string name)
    {
        foreach (var folder in Directory.GetDirectories(parent, $".{name}.tmp-*"))
        {
            var rest = Path.GetFileName(folder)[$".{name}.tmp-".Length..];
            var dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && int.TryParse(rest[..dash], out var pid) && pid != Environment.ProcessId && !Running(pid))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static bool Running(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
