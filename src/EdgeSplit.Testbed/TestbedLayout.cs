using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EdgeSplit.Testbed.Config;
using EdgeSplit.Testbed.Linux;

namespace EdgeSplit.Testbed;

/// <summary>
/// Where a testbed's pieces go before any is created: its slot (10.77.(2s).0/24 for links, a /30 per link,
/// and 10.77.(2s+1).0/24 for control veths, a /30 per device), names, ports and each device's limits.
/// Slots are chosen under one host-wide lock and skip any slot whose interfaces or addresses exist on the
/// host, so testbeds of other state roots (a concurrent test run) never share one.
/// </summary>
internal static class TestbedLayout
{
    private const int Slots = 100;

    /// <summary>Held while a slot is chosen and its interfaces created: one per host, whatever the state root.</summary>
    public static FileStream LockHost() => LockFile(Path.Combine(Exec.IsRoot ? "/run/edgesplit" : Path.GetTempPath(), "testbed-slots.lock"));

    public static FileStream LockRoot(string stateRoot) => LockFile(Path.Combine(stateRoot, ".lock"));

    public static int FreeSlot(IEnumerable<int> recorded, bool namespaces)
    {
        var used = recorded.ToHashSet();
        var links = namespaces ? Exec.Run("ip", "-o", "link", "show").Stdout : "";
        var addresses = namespaces ? Exec.Run("ip", "-o", "-4", "addr", "show").Stdout : "";
        for (var slot = 0; slot < Slots; slot++)
        {
            if (!used.Contains(slot)
                && !links.Contains($" {RunningTestbed.Prefix}{slot}m", StringComparison.Ordinal)
                && !links.Contains($" {RunningTestbed.Prefix}{slot}l", StringComparison.Ordinal)
                && !addresses.Contains($" 10.77.{2 * slot}.", StringComparison.Ordinal)
                && !addresses.Contains($" 10.77.{(2 * slot) + 1}.", StringComparison.Ordinal))
            {
                return slot;
            }
        }
        throw new TestbedException($"{Slots} testbeds are up already; take some down with 'edgesplit testbed down NAME'");
    }

    public static TestbedState Plan(TestbedSpec spec, string specFile, TestbedMode mode, int slot, TestbedEmulation emulation, TestbedOptions options)
    {
        var dir = Path.GetDirectoryName(RunningTestbed.StateFileFor(options.StateRoot, spec.Name))!;
        var namespaces = mode == TestbedMode.Namespaces;
        var devices = new List<DeviceState>();
        var usedPorts = new HashSet<int>();
        // Each device runs one inference thread and stretches it itself: any core will do, so the scheduler may balance them.
        var cpus = $"0-{Environment.ProcessorCount - 1}";
        for (var k = 0; k < spec.Devices.Count; k++)
        {
            var device = spec.Devices[k];
            var emulated = emulation.Device(device.Name);
            devices.Add(new DeviceState
            {
                Name = device.Name,
                Profile = device.Profile.Name,
                Unit = device.Unit.Name,
                Namespace = namespaces ? $"{RunningTestbed.Prefix}{spec.Name}-{device.Name}" : null,
                ControlAddress = namespaces ? ControlAddress(slot, k, deviceSide: true) : "127.0.0.1",
                Port = namespaces ? options.AgentPort : FreeLoopbackPort(usedPorts),
                HostInterface = namespaces ? $"{RunningTestbed.Prefix}{slot}m{k}h" : null,
                Cpus = cpus,
                BusyCores = emulated.BusyCores,
                MemoryBytes = (long)device.Profile.MemoryMb * 1024 * 1024,
                Slowdown = emulated.Slowdown,
                SpeedBasis = emulated.Speed.Basis,
                Parallelism = device.Unit.Parallelism,
                LinksFile = Path.Combine(dir, $"{device.Name}.links.json"),
                LogFile = Path.Combine(dir, $"{device.Name}.log"),
            });
        }
        var links = spec.Links.Select((l, i) => new LinkState
        {
            A = l.A,
            B = l.B,
            InterfaceA = namespaces ? $"{RunningTestbed.Prefix}{slot}l{i}a" : null,
            InterfaceB = namespaces ? $"{RunningTestbed.Prefix}{slot}l{i}b" : null,
            AddressA = namespaces ? LinkAddress(slot, i, 1) : "127.0.0.1",
            AddressB = namespaces ? LinkAddress(slot, i, 2) : "127.0.0.1",
            BandwidthMbps = l.BandwidthMbps,
            LatencyMs = l.LatencyMs,
        }).ToList();
        return new TestbedState
        {
            Name = spec.Name,
            Mode = mode,
            Slot = slot,
            Source = spec.Source,
            SpecFile = Path.GetFullPath(specFile),
            Host = emulation.Host.Describe(),
            DilationFactor = emulation.Dilation.Factor,
            OwnerPid = options.Detached ? null : Environment.ProcessId,
            Namespaces = [.. devices.Where(d => d.Namespace is not null).Select(d => d.Namespace!)],
            HostInterfaces = [.. devices.Where(d => d.HostInterface is not null).Select(d => d.HostInterface!)],
            Devices = devices,
            Links = links,
            CoordinatorAddress = namespaces ? ControlAddress(slot, 0, deviceSide: false) : "127.0.0.1",
        };
    }

    public static string LinkAddress(int slot, int link, int end) => $"10.77.{2 * slot}.{(4 * link) + end}";

    public static string ControlAddress(int slot, int device, bool deviceSide) => $"10.77.{(2 * slot) + 1}.{(4 * device) + (deviceSide ? 2 : 1)}";

    private static int FreeLoopbackPort(HashSet<int> used)
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (used.Add(port))
            {
                return port;
            }
        }
    }

    private static FileStream LockFile(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                Thread.Sleep(100);
            }
        }
    }
}
