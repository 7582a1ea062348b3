using System.Diagnostics;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Testbed.Backends;
using EdgeSplit.Testbed.Calibration;
using EdgeSplit.Testbed.Config;
using EdgeSplit.Tests;
using Microsoft.Extensions.Time.Testing;

namespace EdgeSplit.Testbed.Tests;

/// <summary>
/// The seam both testbeds sit behind: real agents (in this process on loopback, or as root 'edgesplit agent'
/// processes in namespaces), a real coordinator serving SqueezeNet across them, and every scenario action.
/// </summary>
[Collection(nameof(RootTestbedCollection))]
public sealed class BackendTests : IDisposable
{
    private const string NeedsRoot = "needs root with iproute2 (ip, tc) and cgroups: run the tests as root (CI does) to exercise the namespace testbed";
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "examples");
    private readonly string stateRoot = Directory.CreateTempSubdirectory("es-state-").FullName;

    public void Dispose() => Directory.Delete(stateRoot, recursive: true);

    [Fact]
    public async Task In_process_backend_keeps_the_seam_contract()
    {
        var emulation = Emulation("t-inproc");
        await using var backend = await InProcessBackend.StartAsync(emulation, "test", CancellationToken.None);
        Assert.Equal(BackendKind.InProcess, backend.Kind);
        Assert.Contains("in-process emulation", backend.Label);
        await SeamContractAsync(backend);
    }

    [SkippableFact]
    public async Task Namespace_backend_keeps_the_seam_contract()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var emulation = Emulation("t-nsseam");
        await using var backend = NamespaceBackend.Up(emulation.Spec, "t.yaml", emulation, stateRoot, _ => { });
        Assert.Equal(BackendKind.Namespaces, backend.Kind);
        Assert.Contains("namespace testbed", backend.Label);
        await SeamContractAsync(backend);
    }

    [Fact]
    public async Task The_player_applies_each_event_and_ends_each_load_at_its_scaled_time()
    {
        var emulation = Emulation("t-player");
        await using var backend = await InProcessBackend.StartAsync(emulation, "test", CancellationToken.None);
        var scenario = new Scenario("s", TimeSpan.FromSeconds(8),
        [
            new SetLinkEvent(TimeSpan.FromSeconds(1), "a", "b", 5, 20),
            new CpuLoadEvent(TimeSpan.FromSeconds(2), "a", 2, TimeSpan.FromSeconds(3)),
            new KillDeviceEvent(TimeSpan.FromSeconds(4), "b"),
            new ReviveDeviceEvent(TimeSpan.FromSeconds(6), "b"),
        ]);
        var time = new FakeTimeProvider();
        var played = new List<PlayedEvent>();
        // Scale 2: a compressed-and-dilated clock; every event lands at twice its scenario time.
        var play = ScenarioPlayer.PlayAsync(backend, scenario, 2, e => { lock (played) played.Add(e); }, time, null, CancellationToken.None);

        int Played()
        {
            lock (played) return played.Count;
        }
        await Step(time, 1.9);
        Assert.Equal(50, Link(backend).BandwidthMbps);
        await Step(time, 0.1);
        await Eventually(() => Played() == 1);
        Assert.Equal(new LinkConditions("a", "b", 5, 20), Link(backend));
        await Step(time, 2);
        await Eventually(() => Played() == 2);
        Assert.Equal(2.0 / 6, Device(backend, "a").CpuLoad, 6); // a Pi's 4 cores, 2 busy jobs: 4/(4+2) left
        await Step(time, 4);
        await Eventually(() => Played() == 3);
        Assert.False(Device(backend, "b").Alive);
        await Step(time, 2);
        await Eventually(() => Played() == 4);
        Assert.Equal(0, Device(backend, "a").CpuLoad);
        await Step(time, 2);
        await Eventually(() => Played() == 5);
        Assert.True(Device(backend, "b").Alive);
        await Step(time, 4);
        var events = await play;
        Assert.Equal(["link a-b: 5 Mbit/s, 20 ms", "cpu load on a: 2 busy job(s) for 3 s", "killed b", "cpu load on a ends", "revived b"], events.Select(e => e.Description));
        Assert.Equal([2, 4, 8, 10, 12], events.Select(e => e.At.TotalSeconds));
    }

    [SkippableFact]
    public async Task A_testbed_over_the_host_capacity_measures_the_same_device_speed_as_one_under_it()
    {
        Skip.IfNot(RunningTestbed.CanUseNamespaces, NeedsRoot);
        var host = HostCalibration.LoadOrMeasure();
        var proposal = TestbedSpec.Load(Path.Combine(Examples, "testbeds", "proposal.yaml"));
        // One Jetson GPU alone fits; sixteen boards need more cores than the host has.
        var alone = proposal with { Name = TestbedNames.Unique("t-alone"), Devices = [proposal.Device("jetson-1")], Links = [] };
        var crowd = CalibrationTests.Sixteen(proposal) with { Name = TestbedNames.Unique("t-crowd") };
        var under = TestbedEmulation.Plan(alone, host, "mobilenetv2");
        var over = TestbedEmulation.Plan(crowd, host, "mobilenetv2");
        Assert.False(under.Dilation.IsDilated);
        Assert.True(over.Dilation.Factor > 1.2, $"sixteen devices were not dilated ({over.Dilation})");

        var reported = new List<(double Measured, double Expected)>();
        foreach (var (spec, emulation, device) in new[] { (alone, under, "jetson-1"), (crowd, over, "jetson-3") })
        {
            var testbed = RunningTestbed.Up(spec, "t.yaml", new TestbedOptions { StateRoot = stateRoot, Emulation = emulation });
            try
            {
                var result = await SpeedProbe.MeasureAsync(testbed, device, EdgeSplitExecutable.Probe("mobilenetv2"), CancellationToken.None);
                // On the emulated clock: the host's CPU time of the model now, over the unit's speed, is what the device should take.
                reported.Add((emulation.Dilation.ReportMs(result.DeviceMs), result.HostCpuMs / emulation.Device(device).Speed.HostCores));
            }
            finally
            {
                testbed.Down();
            }
        }
        var detail = string.Join("; ", reported.Select(r => $"measured {r.Measured:0.00} ms, expected {r.Expected:0.00} ms"));
        Assert.All(reported, r => Assert.True(r.Measured / r.Expected is > 0.85 and < 1.15, detail));
        // And both near the Nano GPU's published 12.99 ms: loosely, since a busy host's CPU time of a model drifts
        // from the cached calibration (by up to ~40% measured under a load average of 20).
        Assert.All(reported, r => Assert.True(r.Measured is > 12.99 * 0.6 and < 12.99 * 1.6, detail));
    }

    /// <summary>Every action of the seam on a two-device testbed (a Pi 4 and a Jetson GPU, 50 Mbit/s apart), with SqueezeNet served across it.</summary>
    private static async Task SeamContractAsync(ITestbedBackend backend)
    {
        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(EdgeSplit.Zoo.ModelZoo.Build("squeezenet"));
        var onnx = EdgeSplit.Graph.OnnxModel.Parse(bytes, "squeezenet");
        var inputs = EdgeSplit.Runtime.RandomInputs.Create(onnx, EdgeSplit.Runtime.InputShapes.Resolve(onnx, null), seed: 4)
            .Select(t => new EdgeSplit.Runtime.Codec.WireTensor(t.Name, t.ElementType, t.Shape, t.Data)).ToList();
        Assert.Equal(["a", "b"], backend.Agents.Select(a => a.Name));
        var options = backend.ConfigureCoordinator(new CoordinatorOptions { SourceDevice = "a", AttemptTimeout = TimeSpan.FromSeconds(20), MaxAttempts = 1 });
        await using (var coordinator = await CoordinatorHost.StartAsync(OnnxServing.Create(onnx, "squeezenet"), backend.Agents, new FixedCutsPlanSource([20]), options))
        {
            var result = await coordinator.InferAsync(inputs);
            Assert.Equal(["a", "b"], result.Hops.Select(h => h.Device));
            // Each hop's compute is stretched to its device: the Pi's slowdown is far larger than the Jetson GPU's.
            Assert.All(result.Hops, h => Assert.True(h.ComputeMs > 0));
        }

        await backend.SetLinkAsync("a", "b", 5, 10, CancellationToken.None);
        Assert.Equal(new LinkConditions("a", "b", 5, 10), backend.Sample().Links.Single());

        using (await backend.TakeCpuAsync("a", 4, TimeSpan.FromSeconds(30), CancellationToken.None))
        {
            Assert.Equal(0.5, Device(backend, "a").CpuLoad, 6);
        }
        Assert.Equal(0, Device(backend, "a").CpuLoad);
        using (await backend.TakeMemoryAsync("b", 64, TimeSpan.FromSeconds(30), CancellationToken.None))
        {
            Assert.Equal(64, Device(backend, "b").MemoryTakenMb);
        }

        var address = backend.Agents.Single(a => a.Name == "b").Address;
        await backend.KillAsync("b", CancellationToken.None);
        Assert.False(Device(backend, "b").Alive);
        Assert.False(await AgentPing.AnswersWithinAsync(address, TimeSpan.FromSeconds(2)));
        await backend.ReviveAsync("b", CancellationToken.None);
        Assert.True(await AgentPing.AnswersWithinAsync(address, TimeSpan.FromSeconds(60)), $"b did not come back at {address}");
        Assert.True(Device(backend, "b").Alive);

        // Reset: nominal links again, fresh agents that answer.
        await backend.ResetAsync(CancellationToken.None);
        Assert.Equal(new LinkConditions("a", "b", 50, 2), backend.Sample().Links.Single());
        Assert.True(await AgentPing.AnswersWithinAsync(backend.Agents.Single(a => a.Name == "a").Address, TimeSpan.FromSeconds(60)));
    }

    private TestbedEmulation Emulation(string name)
    {
        var rpi = DeviceProfile.Load(Path.Combine(Examples, "profiles", "rpi4.yaml"));
        var nano = DeviceProfile.Load(Path.Combine(Examples, "profiles", "jetson-nano.yaml"));
        var spec = new TestbedSpec(name, "a", [new TestbedDevice("a", rpi, 0, 0), new TestbedDevice("b", nano, 1, 0)], [new TestbedLink("a", "b", 50, 2)]);
        return TestbedEmulation.Plan(spec, HostCalibration.LoadOrMeasure(), "squeezenet");
    }

    private static LinkConditions Link(ITestbedBackend backend) => backend.Sample().Links.Single();

    private static DeviceConditions Device(ITestbedBackend backend, string name) => backend.Sample().Devices.Single(d => d.Name == name);

    /// <summary>Advances the fake clock, then lets the player's continuation run.</summary>
    private static async Task Step(FakeTimeProvider time, double seconds)
    {
        time.Advance(TimeSpan.FromSeconds(seconds));
        await Task.Yield();
    }

    /// <summary>Waits (bounded, real time) for an asynchronous action already due to have happened.</summary>
    private static async Task Eventually(Func<bool> condition)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the player did not apply the event");
            await Task.Delay(20);
        }
    }
}
