namespace EdgeSplit.Cli;

/// <summary>Process exit codes shared by every command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>A check ran and failed (e.g. <c>verify</c> found a mismatch).</summary>
    public const int CheckFailed = 1;
    /// <summary>Bad input: missing or corrupt file, bad flag, unreachable device, bad YAML.</summary>
    public const int BadInput = 2;
    /// <summary>Interrupted by Ctrl-C.</summary>
    public const int Interrupted = 130;
}
