using System.Globalization;

namespace EdgeSplit.Testbed.Linux;

/// <summary>
/// The kernel side of a namespace testbed: a network namespace per device with a control veth to the root
/// namespace, a veth pair per link between two namespaces, and <c>tc tbf</c> on both ends of each link.
/// </summary>
internal static class NamespaceNetwork
{
    /// <summary>Creates every namespace, control veth, cgroup and link of <paramref name="state"/>, saving the state after each device.</summary>
    public static void Create(TestbedState state, string stateFile, Action<string> log)
    {
        foreach (var ns in state.Namespaces)
        {
            if (Exec.Run("ip", "netns", "list").Stdout.Split('\n').Any(l => l.Split(' ')[0] == ns))
            {
                throw new TestbedException($"network namespace {ns} already exists (a testbed '{state.Name}' of another state root is up); give this testbed another name or take that one down");
            }
        }
        for (var k = 0; k < state.Devices.Count; k++)
        {
            var d = state.Devices[k];
            var ns = d.Namespace!;
            log($"creating namespace {ns}");
            Exec.Check("ip", "netns", "add", ns);
            Exec.Check("ip", "-n", ns, "link", "set", "lo", "up");
            var deviceEnd = $"{RunningTestbed.Prefix}{state.Slot}m{k}d";
            Exec.Check("ip", "link", "add", d.HostInterface!, "type", "veth", "peer", "name", deviceEnd, "netns", ns);
            Exec.Check("ip", "addr", "add", TestbedLayout.ControlAddress(state.Slot, k, deviceSide: false) + "/30", "dev", d.HostInterface!);
            Exec.Check("ip", "link", "set", d.HostInterface!, "up");
            Exec.Check("ip", "-n", ns, "addr", "add", d.ControlAddress + "/30", "dev", deviceEnd);
            Exec.Check("ip", "-n", ns, "link", "set", deviceEnd, "up");
            if (k > 0)
            {
                // The coordinator's one address, reached over this device's own control veth (the host answers it itself; nothing is forwarded).
                Exec.Check("ip", "-n", ns, "route", "add", state.CoordinatorAddress + "/32", "via", TestbedLayout.ControlAddress(state.Slot, k, deviceSide: false));
            }
            var cgroups = CgroupSet.Create(ns, new CpuMemoryLimits(d.Cpus, RunningTestbed.DeviceCapCores, d.MemoryBytes));
            state.Devices[k] = d with { CgroupDirectories = cgroups.Directories, CgroupV2 = cgroups.V2 };
            state.Save(stateFile);
        }
        foreach (var link in state.Links)
        {
            var nsA = state.Device(link.A).Namespace!;
            var nsB = state.Device(link.B).Namespace!;
            log($"link {link.A} <-> {link.B}: {link.BandwidthMbps} Mbit/s, {link.LatencyMs} ms one way{(state.Dilation.IsDilated ? $" ({state.Dilation} dilated)" : "")}");
            Exec.Check("ip", "link", "add", link.InterfaceA!, "netns", nsA, "type", "veth", "peer", "name", link.InterfaceB!, "netns", nsB);
            Exec.Check("ip", "-n", nsA, "addr", "add", link.AddressA + "/30", "dev", link.InterfaceA!);
            Exec.Check("ip", "-n", nsB, "addr", "add", link.AddressB + "/30", "dev", link.InterfaceB!);
            Exec.Check("ip", "-n", nsA, "link", "set", link.InterfaceA!, "up");
            Exec.Check("ip", "-n", nsB, "link", "set", link.InterfaceB!, "up");
            Shape(state, link);
        }
    }

    /// <summary>Shapes both ends of a link to its bandwidth, slowed by the testbed's dilation.</summary>
    public static void Shape(TestbedState state, LinkState link)
    {
        var mbps = state.Dilation.Slow(link.BandwidthMbps);
        Shape(state.Device(link.A).Namespace!, link.InterfaceA!, mbps);
        Shape(state.Device(link.B).Namespace!, link.InterfaceB!, mbps);
    }

    /// <summary>The tbf settings for a rate: a burst of ~4 ms of traffic (at least two full frames) and ~50 ms of queue.</summary>
    internal static (long RateBitsPerSecond, long BurstBytes, long LimitBytes) TbfParameters(double bandwidthMbps)
    {
        var rate = (long)Math.Round(bandwidthMbps * 1e6);
        var bytesPerSecond = rate / 8;
        var burst = Math.Max(3028, bytesPerSecond / 250);
        var limit = Math.Max(4 * burst, bytesPerSecond / 20);
        return (rate, burst, limit);
    }

    /// <summary>The handle of the root qdisc in <paramref name="qdiscs"/> (tc qdisc show's output), e.g. "1:"; null if none.</summary>
    internal static string? RootHandle(string qdiscs) =>
        qdiscs.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .FirstOrDefault(f => f.Length >= 4 && f[0] == "qdisc" && f.Contains("root"))?[2];

    public static string Qdisc(string ns, string device)
    {
        var (exit, stdout, _) = Exec.Run("ip", "netns", "exec", ns, "tc", "qdisc", "show", "dev", device);
        return exit == 0 ? stdout.Trim() : "missing";
    }

    /// <summary>
    /// Grafts a new tbf under a handle other than the one in force, never changes the old one in place: a tbf
    /// changed to a smaller burst keeps the GSO packets it queued under the larger one, and a packet bigger than
    /// the bucket never gets the tokens to leave, so the link carried nothing more (a TCP connection crossing a
    /// link that fell from 940 to 10 Mbit/s sat with one 68 KB packet at the queue's head and backed off to a
    /// 120 s RTO). A new qdisc drops the old queue, which TCP resends, and segments GSO packets as they come.
    /// </summary>
    private static void Shape(string ns, string device, double bandwidthMbps)
    {
        var (rate, burst, limit) = TbfParameters(bandwidthMbps);
        var handle = RootHandle(Qdisc(ns, device)) == "1:" ? "2:" : "1:";
        Exec.Check("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", device, "root", "handle", handle, "tbf",
            "rate", rate.ToString(CultureInfo.InvariantCulture) + "bit",
            "burst", burst.ToString(CultureInfo.InvariantCulture),
            "limit", limit.ToString(CultureInfo.InvariantCulture));
    }
}
