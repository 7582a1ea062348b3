using EdgeSplit.Testbed.Config;
using EdgeSplit.Testbed.Linux;

namespace EdgeSplit.Testbed.Backends;

/// <summary>Chooses the testbed an experiment runs on: namespaces whenever they can work, else the in-process emulation.</summary>
public static class TestbedBackends
{
    /// <summary>Set to 1 to use the in-process emulation even as root.</summary>
    public const string ForceInProcessVariable = "EDGESPLIT_FORCE_INPROCESS";

    /// <summary>Why namespaces cannot be used here, or null when they can.</summary>
    public static string? WhyNotNamespaces(bool forceInProcess)
    {
        if (forceInProcess || Environment.GetEnvironmentVariable(ForceInProcessVariable) is "1" or "true")
        {
            return $"in-process requested ({ForceInProcessVariable}=1 or --in-process)";
        }
        if (!OperatingSystem.IsLinux())
        {
            return "not Linux: no network namespaces";
        }
        if (!RunningTestbed.CanUseNamespaces)
        {
            return "not root (namespaces, tc and cgroups need root; run as root for them)";
        }
        if (!EdgeSplitExecutable.IsAvailable)
        {
            return $"edgesplit.dll is not beside {AppContext.BaseDirectory}, so no agent process can be started";
        }
        return null;
    }

    /// <summary>
    /// The namespace testbed when <see cref="WhyNotNamespaces"/> allows and bringing it up works; otherwise the
    /// in-process emulation, whose label says why. <paramref name="log"/> hears which and why.
    /// </summary>
    public static async Task<ITestbedBackend> StartAsync(TestbedSpec spec, string specFile, TestbedEmulation emulation, bool forceInProcess, Action<string> log, CancellationToken ct)
    {
        var why = WhyNotNamespaces(forceInProcess);
        if (why is null)
        {
            try
            {
                return await Task.Run(() => NamespaceBackend.Up(spec, specFile, emulation, stateRoot: null, log), ct);
            }
            catch (TestbedException ex)
            {
                why = $"the namespace testbed failed to come up: {ex.Message}";
                log($"{why}; falling back to the in-process emulation");
            }
        }
        return await InProcessBackend.StartAsync(emulation, why, ct);
    }
}
