using System.Diagnostics;
using EdgeSplit.Testbed;

namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>
/// Starts one process of a PyTorch run (an RPC worker, the driver, the single-device baseline) on the
/// named device. <paramref name="captureOutput"/> asks for its stdout, where the driver and the
/// baseline print their JSON result. <see cref="PyTorchLaunchers.Local"/> starts it in this host; on an
/// emulated testbed the bench passes <c>RunningTestbed.StartInDevice</c>, which has this shape, so each
/// worker runs inside its device's network namespace and cgroups.
/// </summary>
public delegate Process PyTorchLauncher(string device, ProcessLaunch launch, bool captureOutput);

/// <summary>The launchers that need no testbed.</summary>
public static class PyTorchLaunchers
{
    /// <summary>Starts the process here, stdout and stderr captured (stderr for error messages).</summary>
    public static PyTorchLauncher Local { get; } = (_, launch, _) =>
    {
        var info = new ProcessStartInfo(launch.FileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in launch.Arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new PyTorchRunException($"could not start {launch.FileName}");
    };
}
