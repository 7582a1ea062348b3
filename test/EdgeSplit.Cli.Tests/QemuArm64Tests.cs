using System.Text.Json;

namespace EdgeSplit.Cli.Tests;

/// <summary>
/// The arm64 build, emulated by qemu-user on this x64 machine, proves partitioning lossless as
/// the x64 build does. Emulated and slow (about 3 minutes of CPU for squeezenet's 64 cuts), so it
/// runs only when <c>EDGESPLIT_ARM64_BUILD</c> names an arm64 publish folder
/// (<c>deploy/publish.sh linux-arm64</c>); deploy/qemu/README.md explains the settings it needs.
/// </summary>
public sealed class QemuArm64Tests
{
    public const string BuildVariable = "EDGESPLIT_ARM64_BUILD";

    [SkippableFact]
    public void The_arm64_build_verifies_squeezenet_under_qemu()
    {
        var build = Environment.GetEnvironmentVariable(BuildVariable);
        Skip.If(string.IsNullOrEmpty(build),
            $"{BuildVariable} is not set: under qemu this check takes minutes, so it runs on demand (deploy/publish.sh linux-arm64, then {BuildVariable}=out/linux-arm64)");
        Skip.If(ToolProcess.Find("qemu-aarch64") is null, "qemu-aarch64 is not installed (apt-get install qemu-user)");
        Skip.If(!File.Exists("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1"), "no arm64 C library (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)");
        var executable = Path.GetFullPath(Path.Combine(build, "edgesplit"));
        Assert.True(File.Exists(executable), $"{executable} does not exist");

        var result = ToolProcess.Run(Path.Combine(ToolProcess.RepositoryRoot, "deploy", "qemu", "run-arm64.sh"),
            [executable, "verify", "squeezenet", "--threads", "1", "--json"], TimeSpan.FromMinutes(15));

        Assert.True(result.ExitCode == 0, result.ToString());
        var report = JsonDocument.Parse(result.StdOut).RootElement;
        Assert.True(report.GetProperty("passed").GetBoolean());
        Assert.Equal(64, report.GetProperty("cuts_checked").GetInt32());
        Assert.True(report.GetProperty("max_abs_diff").GetDouble() <= 1e-4);
        Assert.Equal("cpu", report.GetProperty("provider").GetString());
    }
}
