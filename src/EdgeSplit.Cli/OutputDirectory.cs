using EdgeSplit.Graph;

namespace EdgeSplit.Cli;

/// <summary>
/// Writes a set of files all or nothing: into a hidden staging folder beside the target, then
/// moved into place, so a failure or Ctrl-C never leaves a half-written output folder.
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

    /// <summary>Moves every staged file into the target folder (created if needed).</summary>
    public void Commit()
    {
        if (!Directory.Exists(Target))
        {
            Directory.Move(Staging, Target);
        }
        else
        {
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
}
