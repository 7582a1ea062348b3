using System.Globalization;

namespace EdgeSplit.Testbed;

/// <summary>
/// How to start the <c>edgesplit</c> CLI as a child process (agents, loads, the speed probe):
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
    /// The agent of a device: <c>edgesplit agent --name N --listen 0.0.0.0:PORT --threads 1 --cache DIR</c>
    /// (all addresses of its own namespace; 127.0.0.1 in the loopback fallback). One ORT thread: the device's
    /// speed is the stretch of that thread's CPU time.
    /// </summary>
    public static ProcessLaunch Agent(Config.TestbedDevice device, DeviceState state) =>
        Command("agent", "--name", device.Name, "--listen", $"{(state.Namespace is null ? "127.0.0.1" : "0.0.0.0")}:{state.Port}",
            "--threads", "1", "--cache", Path.Combine(Path.GetDirectoryName(state.LinksFile)!, "cache", device.Name));

    /// <summary>The speed probe of <c>testbed check</c>: one reference model, run on request inside a device.</summary>
    public static ProcessLaunch Probe(string model) => Command("testbed", "probe", "--model", model);

    /// <summary>A scenario load: <paramref name="cpuThreads"/> busy threads using <paramref name="cores"/> host cores in all, and/or touched memory.</summary>
    public static ProcessLaunch Load(int cpuThreads, double cores, int memoryMb, TimeSpan duration) =>
        Command("testbed", "load", "--cpu-threads", cpuThreads.ToString(CultureInfo.InvariantCulture),
            "--cores", cores.ToString("0.#####", CultureInfo.InvariantCulture),
            "--memory-mb", memoryMb.ToString(CultureInfo.InvariantCulture),
            "--seconds", duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture));
}
