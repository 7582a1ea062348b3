using System.Diagnostics;
using EdgeSplit.Graph;
using EdgeSplit.Planning;
using EdgeSplit.Testbed;
using EdgeSplit.Testbed.Backends;

namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>
/// An EdgeSplit plan as a PyTorch RPC run on the namespace testbed that served it: the plan's cuts mapped
/// to torchvision module boundaries (the nearest one where a cut falls inside a block), one worker per
/// stage inside the stage's device (its namespace and cgroups, started by <see cref="RunningTestbed.StartInDevice"/>),
/// the driver on the source device, and the device speeds and link latencies the testbed's agents emulate
/// themselves (<see cref="PyTorchRpcOptions.Slowdowns"/>, <see cref="PyTorchRpcOptions.HopDelaysMs"/>).
/// </summary>
internal sealed class PyTorchOnTestbed : IDisposable
{
    private readonly RunningTestbed _testbed;
    private readonly List<(string Namespace, string Route)> _routes = [];

    private PyTorchOnTestbed(RunningTestbed testbed) => _testbed = testbed;

    /// <summary>The testbed under <paramref name="backend"/>, or null with the reason PyTorch cannot run there.</summary>
    public static PyTorchOnTestbed? TryAttach(ITestbedBackend backend, out string reason)
    {
        if (backend is NamespaceBackend { Testbed: { State.Mode: TestbedMode.Namespaces } testbed })
        {
            reason = "";
            return new PyTorchOnTestbed(testbed);
        }
        reason = "pytorch-rpc runs its workers inside the namespace testbed's devices (their namespaces, cgroups and shaped links), which needs root; this run had " + backend.Label;
        return null;
    }

    public PyTorchLauncher Launcher => (device, launch, capture) => _testbed.StartInDevice(device, launch, capture);

    /// <summary>
    /// The plan's stage boundaries as EdgeSplit cut indices, each moved to the nearest cut PyTorch can split at
    /// (<paramref name="usable"/>); stages whose mapped cuts coincide merge. Returns the cuts, each stage's
    /// device, and one line per cut that moved.
    /// </summary>
    public static (IReadOnlyList<int> Cuts, IReadOnlyList<string> Devices, IReadOnlyList<string> Moved) MapPlan(OnnxModel model, Plan plan, IReadOnlyList<int> usable)
    {
        var cuts = new List<int>();
        var devices = new List<string> { plan.Stages[0].Device };
        var moved = new List<string>();
        foreach (var (stage, next) in plan.Stages.Zip(plan.Stages.Skip(1)))
        {
            var exact = model.Cuts.FirstOrDefault(c => c.AfterNode == stage.LastNode)
                ?? throw new PyTorchRunException($"the plan's boundary after node {stage.LastNode} is no cut of {model.DisplayName}");
            var nearest = usable.OrderBy(u => Math.Abs(model.Cuts[u].AfterNode - stage.LastNode)).ThenBy(u => u).First();
            if (nearest != exact.Index)
            {
                moved.Add($"cut {exact.Index} (after {exact.NodeName}) has no torchvision module boundary; the nearest one, cut {nearest} (after {model.Cuts[nearest].NodeName}), ran instead");
            }
            if (cuts.Count > 0 && nearest <= cuts[^1])
            {
                moved.Add($"cut {exact.Index} mapped onto the cut before it: stages {devices[^1]} and {next.Device} ran as one on {devices[^1]}");
                continue;
            }
            cuts.Add(nearest);
            devices.Add(next.Device);
        }
        return (cuts, devices, moved);
    }

    /// <summary>
    /// Options for a run of the options' cuts over <paramref name="stageDevices"/> with the driver on
    /// <paramref name="driverDevice"/>: every process listens on one of its device's link addresses, and each
    /// device that talks to it gets a host route to that address over their direct link (TensorPipe listens
    /// on one address; the testbed's links are point to point). Routes are removed on dispose.
    /// </summary>
    public PyTorchRpcOptions Place(PyTorchRpcOptions options, TestbedEmulation emulation, string driverDevice, IReadOnlyList<string> stageDevices)
    {
        var state = _testbed.State;
        var dilation = emulation.Dilation;
        var devices = stageDevices.Prepend(driverDevice).Distinct().ToList();
        // Each device listens on its link to the next device in the chain (the driver's: to the first stage), else on any of its links.
        var chain = stageDevices.Prepend(driverDevice).Append(driverDevice).ToList();
        var listen = new Dictionary<string, (string Interface, string Address)>(StringComparer.Ordinal);
        foreach (var device in devices)
        {
            var next = chain.Zip(chain.Skip(1)).Where(p => p.First == device && p.Second != device).Select(p => p.Second).FirstOrDefault();
            var link = (next is null ? null : LinkBetween(device, next)) ?? state.Links.FirstOrDefault(l => l.A == device || l.B == device)
                ?? throw new PyTorchRunException($"device {device} has no link; a PyTorch worker there could reach nobody");
            listen[device] = End(link, device);
        }
        foreach (var device in devices)
        {
            foreach (var peer in devices.Where(p => p != device))
            {
                var link = LinkBetween(device, peer)
                    ?? throw new PyTorchRunException($"devices {device} and {peer} have no direct link; PyTorch RPC connects every worker to the driver and to its neighbours");
                var address = listen[device].Address;
                if (End(link, device).Address == address)
                {
                    continue; // on their shared link already
                }
                var (peerInterface, _) = End(link, peer);
                var route = $"{address}/32 via {End(link, device).Address} dev {peerInterface}";
                var ns = state.Device(peer).Namespace!;
                Ip("-n", ns, "route", "replace", address + "/32", "via", End(link, device).Address, "dev", peerInterface);
                _routes.Add((ns, route));
            }
        }
        var hopDelays = new List<double>();
        for (var hop = 0; hop + 1 < chain.Count; hop++)
        {
            var (from, to) = (chain[hop], chain[hop + 1]);
            hopDelays.Add(from == to ? 0 : dilation.StretchMs(LinkBetween(from, to)!.LatencyMs));
        }
        return options with
        {
            // Each emulated device computes on one host thread stretched to its unit's published speed, as EdgeSplit's agents run ONNX Runtime.
            Workers = [.. stageDevices.Select(d => new PyTorchWorkerPlacement(d, Threads: 1, listen[d].Interface))],
            Slowdowns = [.. stageDevices.Select(d => emulation.Device(d).Slowdown)],
            HopDelaysMs = hopDelays,
            DriverDevice = driverDevice,
            DriverInterface = listen[driverDevice].Interface,
            RendezvousAddress = listen[driverDevice].Address,
        };
    }

    public void Dispose()
    {
        foreach (var (ns, route) in _routes)
        {
            Ip(["-n", ns, "route", "del", .. route.Split(' ')], check: false);
        }
        _routes.Clear();
    }

    private LinkState? LinkBetween(string a, string b) =>
        _testbed.State.Links.FirstOrDefault(l => (l.A == a && l.B == b) || (l.A == b && l.B == a));

    private static (string Interface, string Address) End(LinkState link, string device) =>
        link.A == device ? (link.InterfaceA!, link.AddressA) : (link.InterfaceB!, link.AddressB);

    private static void Ip(params string[] arguments) => Ip(arguments, check: true);

    private static void Ip(string[] arguments, bool check)
    {
        var info = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new PyTorchRunException("could not start ip");
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (check && process.ExitCode != 0)
        {
            throw new PyTorchRunException($"ip {string.Join(' ', arguments)}: {error.Trim()}");
        }
    }
}
