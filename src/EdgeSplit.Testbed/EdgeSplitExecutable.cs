namespace EdgeSplit.Testbed;

/// <summary>
/// How to start the <c>edgesplit</c> CLI as a child process (agents, loads, the reference workload):
/// <c>dotnet edgesplit.dll ...</c> from the application's own directory.
/// </summary>
public static class EdgeSplitExecutable
{
    public static bool IsAvailable => File.Exists(Dll);

    private static string Dll => Path.Combine(AppContext.BaseDirectory, "edgesplit.dll");

    public static ProcessLaunch Command(params string[] arguments)
    {
        if (!IsAvailable)
        {
            throw new Linux.TestbedException($"edgesplit.dll is not in {AppContext.BaseDirectory}; build src/EdgeSplit.Cli");
        }
        // The muxer that runs us runs the child too; fall back to PATH.
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h
            : "dotnet";
        return new ProcessLaunch(host, [Dll, .. arguments]);
    }

    /// <summary>
    /// The agent of a device: <c>edgesplit agent --name N --listen 0.0.0.0:PORT --threads CORES</c>
    /// (all addresses of its own namespace; 127.0.0.1 in the loopback fallback).
    /// </summary>
    public static ProcessLaunch Agent(Config.TestbedDevice device, DeviceState state) =>
        Command("agent", "--name", device.Name, "--listen", $"{(state.Namespace is null ? "127.0.0.1" : "0.0.0.0")}:{state.Port}",
            "--threads", state.EmulatedCores.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static ProcessLaunch Workload(int threads, double units) =>
        Command("testbed", "workload", "--threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture), "--units", units.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture));

    public static ProcessLaunch Load(int cpuThreads, int memoryMb, TimeSpan duration) =>
        Command("testbed", "load", "--cpu-threads", cpuThreads.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--memory-mb", memoryMb.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--seconds", duration.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture));
}
