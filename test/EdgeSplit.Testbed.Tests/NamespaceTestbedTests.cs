using System.Net.Sockets;
using System.Diagnostics;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Testbed.Backends;
using EdgeSplit.Testbed.Calibration;
using EdgeSplit.Testbed.Config;
using EdgeSplit.Testbed.Linux;
using EdgeSplit.Tests;

namespace EdgeSplit.Testbed.Tests;

/// <summary>Real namespaces, veth pairs, tc and cgroups: these run only as root and skip elsewhere.</summary>
[CollectionDefinition(nameof(RootTestbedCollection), DisableParallelization = true)]
public sealed class RootTestbedCollection;

[Collection(nameof(RootTestbedCollection))]
public sealed class NamespaceTestbedTests : IDisposable
{
    private const string NeedsRoot = "needs root with iproute2 (ip, tc) and cgroups: run the tests as root (CI does) to exercise the namespace testbed";
    private static readonly string Profiles = Path.Combine(AppContext.BaseDirectory, "examples", "profiles");
    private readonly string stateRoot = Directory.CreateTempSubdirectory("es-state-").FullName;

    public void Dispose() => Directory.Delete(stateRoot, recursive: true);

    [SkippableFact]
    public void Up_then_down_leaves_no_namespace_veth_cgroup_or_process()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var spec = Spec("t-updown", (10, 1), (50, 2));
        var testbed = RunningTestbed.Up(spec, "t.yaml", Options(spec, SleepCommand));
        var state = testbed.State;
        var pids = state.Devices.Select(d => d.Pid!.Value).ToList();
        Assert.All(state.Devices, d => Assert.True(testbed.IsRunning(d.Name), $"device {d.Name} (pid {d.Pid}) is not running; its log: {(File.Exists(d.LogFile) ? File.ReadAllText(d.LogFile) : "none")}"));
        Assert.All(state.Namespaces, ns => Assert.Contains(ns, Ip("netns", "list")));
        Assert.Contains(state.Links[0].InterfaceA!, Ip("-n", state.Device("a").Namespace!, "link", "show"));
        Assert.All(state.Devices.SelectMany(d => d.CgroupDirectories), dir => Assert.True(Directory.Exists(dir)));
        // The device process really runs inside its cgroup and its namespace.
        var device = state.Device("a");
        Assert.Contains(device.Pid!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(device.CgroupDirectories[0], "cgroup.procs")));
        Assert.Contains(device.Pid!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), Ip("netns", "pids", device.Namespace!));
        // A device's processes read their own memory limit where an agent's monitor looks for it (v1 or v2).
        using (var reader = testbed.StartInDevice("a", new ProcessLaunch("sh", ["-c",
            "p=$(grep ':memory:' /proc/self/cgroup | cut -d: -f3); if [ -n \"$p\" ]; then cat /sys/fs/cgroup/memory$p/memory.limit_in_bytes; " +
            "else cat /sys/fs/cgroup$(grep '^0::' /proc/self/cgroup | cut -d: -f3)/memory.max; fi"]), captureOutput: true))
        {
            var seen = reader.StandardOutput.ReadToEnd().Trim();
            reader.WaitForExit();
            Assert.Equal(device.MemoryBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), seen);
        }

        testbed.Down();

        AssertNothingLeft(state, pids);
    }

    [SkippableFact]
    public async Task A_model_served_on_the_testbed_crosses_the_device_links_and_matches_one_device()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        // Three devices, every pair linked; agents are real 'edgesplit agent' processes in their namespaces.
        var serveSpec = Spec("t-serve", (50, 1), (50, 1), (50, 1));
        var testbed = RunningTestbed.Up(serveSpec, "t.yaml", Options(serveSpec, EdgeSplitExecutable.Agent) with { AwaitListening = true });
        try
        {
            var state = testbed.State;
            // Devices reach the coordinator's one address and their linked peers, and nothing else.
            var routes = Ip("-n", state.Device("c").Namespace!, "route");
            Assert.Contains(state.CoordinatorAddress, routes);
            Assert.DoesNotContain("default", routes);

            var bytes = Google.Protobuf.MessageExtensions.ToByteArray(EdgeSplit.Zoo.ModelZoo.Build("squeezenet"));
            var onnx = EdgeSplit.Graph.OnnxModel.Parse(bytes, "squeezenet");
            var inputs = EdgeSplit.Runtime.RandomInputs.Create(onnx, EdgeSplit.Runtime.InputShapes.Resolve(onnx, null), seed: 4);
            var endpoints = state.AgentEndpoints();
            await WaitForAgentsAsync(endpoints);
            var port = FreePort();
            var options = new EdgeSplit.Cluster.Coordinator.CoordinatorOptions
            {
                Listen = $"0.0.0.0:{port}",
                AdvertiseAddress = $"{state.CoordinatorAddress}:{port}",
                PeerAddresses = state.PeerAddresses(),
                SourceDevice = "a",
                AttemptTimeout = TimeSpan.FromSeconds(20),
                MaxAttempts = 1,
            };
            await using var coordinator = await EdgeSplit.Cluster.Coordinator.CoordinatorHost.StartAsync(
                EdgeSplit.Cluster.Coordinator.OnnxServing.Create(onnx, "squeezenet"), endpoints, new EdgeSplit.Cluster.Coordinator.FixedCutsPlanSource([20, 45]), options);
            Assert.Equal(["a", "b", "c"], coordinator.CurrentPlan!.Stages.Select(s => s.Device));

            using var reference = new EdgeSplit.Runtime.ModelSession(bytes);
            var expected = reference.Run(inputs.ToDictionary(t => t.Name)).Single().Data.ToArray();
            for (var i = 0; i < 3; i++)
            {
                var result = await coordinator.InferAsync([.. inputs.Select(t => new EdgeSplit.Runtime.Codec.WireTensor(t.Name, t.ElementType, t.Shape, t.Data))]);
                var got = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(result.Outputs.Single().Data.Span).ToArray();
                var want = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(expected).ToArray();
                Assert.Equal(want.Length, got.Length);
                Assert.True(want.Zip(got).Max(p => Math.Abs(p.First - p.Second)) <= 1e-4);
            }
        }
        finally
        {
            testbed.Down();
        }
    }

    private static async Task WaitForAgentsAsync(IReadOnlyList<EdgeSplit.Cluster.Coordinator.AgentEndpoint> agents)
    {
        foreach (var agent in agents)
        {
            Assert.True(await AgentPing.AnswersWithinAsync(agent.Address, TimeSpan.FromSeconds(60)), $"agent {agent.Name} at {agent.Address} does not answer");
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [SkippableFact]
    public void A_device_process_that_dies_at_start_is_an_error_naming_it_and_nothing_is_left()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var spec = Spec("t-dies", (10, 1));
        var error = Assert.Throws<EdgeSplit.Testbed.Linux.TestbedException>(() => RunningTestbed.Up(spec, "t.yaml",
            Options(spec, (device, _) => new ProcessLaunch("sh", ["-c", $"echo 'no model for {device.Name}' >&2; exit 3"]))));

        // Whichever device is found dead first is named, with the end of its own log.
        var named = System.Text.RegularExpressions.Regex.Match(error.Message, "^device ([abc]): its process exited at start");
        Assert.True(named.Success, error.Message);
        Assert.Contains($"no model for {named.Groups[1].Value}", error.Message);
        // None of its namespaces is left (other testbeds on the host may come and go meanwhile).
        Assert.DoesNotContain(spec.Name, Ip("netns", "list"), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(stateRoot, spec.Name)));
    }

    [SkippableFact]
    public async Task A_killed_owner_is_cleaned_up_by_its_watchdog()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var name = TestbedNames.Unique("t-crash");
        var file = WriteTestbedFile(name);
        var launch = EdgeSplitExecutable.Command("testbed", "up", file, "--process", "sleep 600");
        var info = new ProcessStartInfo(launch.FileName) { RedirectStandardError = true, RedirectStandardOutput = true };
        launch.Arguments.ToList().ForEach(info.ArgumentList.Add);
        info.Environment["EDGESPLIT_TESTBED_STATE"] = stateRoot;
        using var owner = Process.Start(info)!;
        var stateFile = RunningTestbed.StateFileFor(stateRoot, name);
        var waited = Stopwatch.StartNew();
        TestbedState? state = null;
        while (waited.Elapsed < TimeSpan.FromSeconds(60) && !owner.HasExited)
        {
            if (File.Exists(stateFile))
            {
                state = TestbedState.Load(stateFile);
                if (state.Devices.All(d => d.Pid is not null))
                {
                    break;
                }
            }
            await Task.Delay(100);
        }
        if (owner.HasExited)
        {
            Assert.Fail($"testbed up exited early: {await owner.StandardError.ReadToEndAsync()}");
        }
        Assert.NotNull(state);
        owner.Kill();
        await owner.WaitForExitAsync();
        var deadline = Stopwatch.StartNew();
        while (File.Exists(stateFile) && deadline.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(200);
        }
        AssertNothingLeft(state!, [.. state!.Devices.Select(d => d.Pid!.Value)]);
    }

    [SkippableFact]
    public async Task Shaped_links_measure_within_10_percent_from_1_to_100_mbit()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var spec = Spec("t-links", (1, 0), (100, 0), (10, 0));
        var testbed = RunningTestbed.Up(spec, "t.yaml", Options(spec, command: null));
        try
        {
            foreach (var link in testbed.State.Links)
            {
                // A link's capacity is the best goodput it allows: other load on a busy host can only
                // lower one run, never lift it past the shaped rate, so take the best of up to three.
                var best = 0.0;
                for (var run = 0; run < 3 && best < link.BandwidthMbps * 0.9; run++)
                {
                    // Shaped at the rate slowed by the testbed's dilation (host-dependent: these devices ask for more CPU
                    // than 2 cores have), so the goodput is read on the devices' clock, as 'testbed check' reports it.
                    var measured = testbed.State.Dilation.Factor * await LinkProbe.MeasureBandwidthMbpsAsync(testbed, link.A, link.B, TimeSpan.FromSeconds(link.BandwidthMbps < 5 ? 3 : 1.5), CancellationToken.None);
                    Assert.True(measured <= link.BandwidthMbps * 1.1, $"{link.A}-{link.B}: {measured:F2} Mbit/s exceeds the shaped {link.BandwidthMbps} Mbit/s by more than 10%");
                    best = Math.Max(best, measured);
                }
                Assert.InRange(best, link.BandwidthMbps * 0.9, link.BandwidthMbps * 1.1);
            }
        }
        finally
        {
            testbed.Down();
        }
    }

    [SkippableFact]
    public async Task A_link_reshaped_while_a_transfer_fills_its_queue_keeps_carrying_it()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var spec = Spec("t-reshape", (1000, 0));
        var testbed = RunningTestbed.Up(spec, "t.yaml", Options(spec, command: null));
        try
        {
            var (listener, client, target) = LinkProbe.OpenPair(testbed, "a", "b");
            using (listener)
            using (client)
            {
                using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                var accept = listener.AcceptAsync(bound.Token).AsTask();
                await client.ConnectAsync(target, bound.Token);
                using var server = await accept;
                long received = 0;
                var reader = Task.Run(async () =>
                {
                    var buffer = new byte[256 * 1024];
                    int n;
                    while ((n = await server.ReceiveAsync(buffer, SocketFlags.None, bound.Token)) > 0)
                    {
                        Interlocked.Add(ref received, n);
                    }
                });
                // At most 1 GiB, as fast as the link takes it: its queue fills with the kernel's large (GSO) packets.
                var sender = Task.Run(async () =>
                {
                    var chunk = new byte[256 * 1024];
                    for (var i = 0; i < 4096; i++)
                    {
                        await client.SendAsync(chunk, SocketFlags.None, bound.Token);
                    }
                });
                Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref received) >= 32 << 20, TimeSpan.FromSeconds(20)), "32 MiB did not cross the 1000 Mbit/s link");

                // The Wi-Fi falls to 10 Mbit/s mid-transfer; what was queued at 1000 Mbit/s must not wedge the link.
                testbed.SetLink("a", "b", 10, null);
                var before = Interlocked.Read(ref received);
                var flowed = SpinWait.SpinUntil(() => Interlocked.Read(ref received) >= before + (1 << 20), TimeSpan.FromSeconds(15));
                await bound.CancelAsync();
                await Task.WhenAll(reader, sender).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                Assert.True(flowed, $"after the reshape only {(Interlocked.Read(ref received) - before) / 1024} KiB crossed in 15 s (1 MiB takes ~1 s at 10 Mbit/s); qdisc now: {NamespaceNetwork.Qdisc(testbed.State.Device("a").Namespace!, testbed.State.Links[0].InterfaceA!)}");
            }
        }
        finally
        {
            testbed.Down();
        }
    }

    [SkippableFact]
    public async Task Rtt_includes_the_latency_each_sender_adds()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var rttSpec = Spec("t-rtt", (50, 15));
        var testbed = RunningTestbed.Up(rttSpec, "t.yaml", Options(rttSpec, command: null));
        try
        {
            var rtt = await LinkProbe.MeasureRttMsAsync(testbed, "a", "b", 10, CancellationToken.None);
            // Two 15 ms sender delays; scheduling on a busy host only adds.
            Assert.InRange(rtt, 30, 45);
        }
        finally
        {
            testbed.Down();
        }
    }

    [SkippableFact]
    public async Task A_device_runs_a_reference_model_within_15_percent_of_its_published_latency()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var spec = Spec("t-cpu", (10, 0));
        var emulation = TestbedEmulation.Plan(spec, HostCalibration.LoadOrMeasure(), "squeezenet");
        var testbed = RunningTestbed.Up(spec, "t.yaml", Options(spec, command: null) with { Emulation = emulation });
        try
        {
            // Device a is a Pi 4: squeezenet published at 46.65 ms (ncnn, 4 threads). The emulation stretches this
            // host's CPU time of each run; a busy host's CPU time drifts from the cached calibration (by up to ~40%
            // measured under a load average of 20), so the tight bound is against the CPU time measured now, and the
            // published figure gets a looser one.
            var measured = await SpeedProbe.MeasureAsync(testbed, "a", EdgeSplitExecutable.Probe("squeezenet"), CancellationToken.None);
            var device = emulation.Device("a");
            var expected = measured.HostCpuMs * device.Slowdown;
            Assert.InRange(measured.DeviceMs, expected * 0.85, expected * 1.15);
            Assert.InRange(emulation.Dilation.ReportMs(measured.DeviceMs), 46.65 * 0.6, 46.65 * 1.6);
        }
        finally
        {
            testbed.Down();
        }
    }

    [SkippableFact]
    public async Task Playing_a_scenario_reshapes_the_link_and_kills_and_revives_a_device()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var spec = Spec("t-play", (20, 5));
        var options = Options(spec, SleepCommand);
        var testbed = RunningTestbed.Up(spec, "t.yaml", options);
        try
        {
            var firstPid = testbed.State.Device("b").Pid;
            var scenario = new Scenario("s", TimeSpan.FromSeconds(1.5),
            [
                new SetLinkEvent(TimeSpan.Zero, "a", "b", 2, 40),
                new CpuLoadEvent(TimeSpan.FromSeconds(0.1), "a", 1, TimeSpan.FromSeconds(0.5)),
                new KillDeviceEvent(TimeSpan.FromSeconds(0.2), "b"),
                new ReviveDeviceEvent(TimeSpan.FromSeconds(0.6), "b"),
            ]);
            var seenDead = false;
            var loadRan = false;
            await using var backend = NamespaceBackend.Attach(testbed, options.Emulation!, EdgeSplitExecutable.Load, _ => { });
            var played = await ScenarioPlayer.PlayAsync(backend, scenario, 1, e =>
            {
                seenDead |= e.Description.StartsWith("killed", StringComparison.Ordinal) && !testbed.IsRunning("b");
                // The load is a process inside device a's cgroups while it lasts.
                var cgroups = new EdgeSplit.Testbed.Linux.CgroupSet(testbed.State.Device("a").CgroupV2, testbed.State.Device("a").CgroupDirectories);
                loadRan |= e.Description.StartsWith("cpu load on a:", StringComparison.Ordinal)
                    && SpinWait.SpinUntil(() => cgroups.Processes().Count > 1, TimeSpan.FromSeconds(2));
            }, TimeProvider.System, null, CancellationToken.None);
            Assert.Equal(5, played.Count);
            Assert.True(seenDead);
            Assert.True(loadRan, "no load process ran in device a's cgroups");
            Assert.True(testbed.IsRunning("b"));
            Assert.NotEqual(firstPid, testbed.State.Device("b").Pid);
            Assert.Contains("rate 2Mbit", testbed.Status().Links[0].Qdisc);
            // The senders learn the new latency from their links file.
            var links = EmulatedLinks.Open(testbed.State.Device("a").LinksFile);
            Assert.Equal(40, links.Find("b")!.LatencyMs);
        }
        finally
        {
            testbed.Down();
        }
    }

    [SkippableFact]
    public void Testbeds_of_two_state_roots_take_different_slots()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var otherRoot = Directory.CreateTempSubdirectory("es-state-").FullName;
        var first = Spec("t-slot-a", (10, 1));
        var second = Spec("t-slot-b", (10, 1));
        var a = RunningTestbed.Up(first, "t.yaml", Options(first, command: null));
        try
        {
            // Another state root knows nothing of the first testbed's state; the host's interfaces still tell.
            var b = RunningTestbed.Up(second, "t.yaml", Options(second, command: null) with { StateRoot = otherRoot });
            try
            {
                Assert.NotEqual(a.State.Slot, b.State.Slot);
                Assert.NotEqual(a.State.CoordinatorAddress, b.State.CoordinatorAddress);
            }
            finally
            {
                b.Down();
            }
        }
        finally
        {
            a.Down();
            Directory.Delete(otherRoot, recursive: true);
        }
    }

    [Fact]
    public void Loopback_fallback_runs_devices_on_127_0_0_1_with_in_process_emulation()
    {
        var loopSpec = Spec("t-loop", (10, 3));
        var testbed = RunningTestbed.Up(loopSpec, "t.yaml", Options(loopSpec, SleepCommand) with { ForceLoopback = true });
        var pids = testbed.State.Devices.Select(d => d.Pid!.Value).ToList();
        try
        {
            Assert.Equal(TestbedMode.Loopback, testbed.State.Mode);
            Assert.All(testbed.State.Devices, d => Assert.Equal("127.0.0.1", d.ControlAddress));
            Assert.StartsWith("127.0.0.1:", testbed.State.AddressOf("a", "b"));
            var links = EmulatedLinks.Open(testbed.State.Device("a").LinksFile);
            var link = links.Find(testbed.State.AddressOf("a", "b")!)!;
            Assert.False(link.ShapedByKernel);
            Assert.Equal(3, link.LatencyMs);
            Assert.True(links.Current.CpuSlowdown > 1);
            // The agent process stretches its own timeouts by the testbed's dilation, which the file names.
            Assert.Equal(testbed.State.DilationFactor, links.Current.TimeDilation);
            Assert.All(testbed.State.Devices, d => Assert.True(testbed.IsRunning(d.Name)));
        }
        finally
        {
            testbed.Down();
        }
        Assert.All(pids, pid => Assert.False(File.Exists($"/proc/{pid}/stat") && File.ReadAllText($"/proc/{pid}/stat").Contains(" S ", StringComparison.Ordinal)));
        Assert.False(Directory.Exists(Path.Combine(stateRoot, loopSpec.Name)));
    }

    private static ProcessLaunch SleepCommand(TestbedDevice device, DeviceState state) => new("sleep", ["600"]);

    private TestbedOptions Options(TestbedSpec spec, DeviceCommand? command) => new()
    {
        StateRoot = stateRoot,
        Command = command,
        Emulation = TestbedEmulation.Plan(spec, HostCalibration.LoadOrMeasure()),
    };

    /// <summary>Devices a, b, c... (the testbed named uniquely on this host) joined in a chain-and-ring by links of the given (Mbit/s, one-way ms).</summary>
    private static TestbedSpec Spec(string name, params (double Mbps, double LatencyMs)[] links)
    {
        var laptop = DeviceProfile.Load(Path.Combine(Profiles, "laptop.yaml"));
        var rpi = DeviceProfile.Load(Path.Combine(Profiles, "rpi4.yaml"));
        var count = Math.Max(2, links.Length == 3 ? 3 : links.Length + 1);
        var devices = Enumerable.Range(0, count).Select(i => new TestbedDevice(((char)('a' + i)).ToString(), i == 0 ? rpi : laptop, i, 0)).ToList();
        var pairs = new[] { ("a", "b"), ("b", "c"), ("a", "c") };
        return new TestbedSpec(TestbedNames.Unique(name), "a", devices, [.. links.Select((l, i) => new TestbedLink(pairs[i].Item1, pairs[i].Item2, l.Mbps, l.LatencyMs))]);
    }

    private string WriteTestbedFile(string name)
    {
        var file = Path.Combine(stateRoot, name + ".yaml");
        File.WriteAllText(file, $"""
            name: {name}
            source: a
            devices:
              - name: a
                profile: {Path.Combine(Profiles, "rpi4.yaml")}
              - name: b
                profile: {Path.Combine(Profiles, "laptop.yaml")}
            links:
              - a: a
                b: b
                bandwidth_mbps: 10
                latency_ms: 2
            """);
        return file;
    }

    private static void AssertNothingLeft(TestbedState state, IReadOnlyList<int> pids)
    {
        var namespaces = Ip("netns", "list");
        Assert.All(state.Namespaces, ns => Assert.DoesNotContain(ns, namespaces));
        var links = Ip("-o", "link", "show");
        Assert.All(state.HostInterfaces, l => Assert.DoesNotContain(l + "@", links));
        Assert.DoesNotContain($" es-{state.Slot}l", links);
        Assert.All(state.Devices.SelectMany(d => d.CgroupDirectories), dir => Assert.False(Directory.Exists(dir), dir));
        Assert.All(pids, pid => Assert.False(IsAlive(pid), $"pid {pid} survives"));
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string Ip(params string[] args)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true };
        args.ToList().ForEach(info.ArgumentList.Add);
        using var p = Process.Start(info)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }
}
