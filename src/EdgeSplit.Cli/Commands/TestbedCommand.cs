using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeSplit.Graph;
using EdgeSplit.Testbed;
using EdgeSplit.Testbed.Backends;
using EdgeSplit.Testbed.Calibration;
using EdgeSplit.Testbed.Config;
using Spectre.Console;

namespace EdgeSplit.Cli.Commands;

/// <summary><c>edgesplit testbed up|down|status|check|play|calibrate</c>: the emulated testbed of heterogeneous devices.</summary>
internal static class TestbedCommand
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static Command Create()
    {
        var command = new Command("testbed", "Emulate heterogeneous edge devices on this Linux host (namespaces, tc and cgroups as root; loopback otherwise).");
        command.Subcommands.Add(Up());
        command.Subcommands.Add(Down());
        command.Subcommands.Add(Status());
        command.Subcommands.Add(Check());
        command.Subcommands.Add(Play());
        command.Subcommands.Add(Calibrate());
        command.Subcommands.Add(Probe());
        command.Subcommands.Add(Load());
        return command;
    }

    private static Command Up()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "A testbed YAML file (see examples/testbeds/)." };
        var detach = new Option<bool>("--detach") { Description = "Return once up; take it down later with 'testbed down'. Otherwise it runs until Ctrl-C." };
        var loopback = new Option<bool>("--loopback") { Description = "Use the loopback fallback even as root." };
        var process = new Option<string?>("--process") { Description = "Run this command in each device instead of 'edgesplit agent' (e.g. \"sleep infinity\"); {name}, {address} and {port} are replaced; double quotes group words." };
        var noProcess = new Option<bool>("--no-process") { Description = "Create namespaces, links and cgroups only." };
        var model = ModelBasis();
        var json = CommonOptions.Json();
        var command = new Command("up", "Bring a testbed up: one agent per device in its own namespace, links shaped with tc, CPU and memory limited by cgroups.")
        {
            file, detach, loopback, process, noProcess, model, json,
        };
        CommandRunner.SetAction(command, async (parse, ct) =>
        {
            var path = parse.GetValue(file)!.FullName;
            var spec = TestbedSpec.Load(path);
            var agents = !parse.GetValue(noProcess) && parse.GetValue(process) is not { Length: > 0 };
            DeviceCommand? deviceCommand = parse.GetValue(noProcess) ? null
                : parse.GetValue(process) is { Length: > 0 } custom ? (d, s) => CustomProcess(custom, d, s)
                : EdgeSplitExecutable.Agent;
            var testbed = RunningTestbed.Up(spec, path, new TestbedOptions
            {
                Command = deviceCommand,
                AwaitListening = agents,
                Detached = parse.GetValue(detach),
                ForceLoopback = parse.GetValue(loopback),
                Model = parse.GetValue(model),
                Log = Log,
            });
            // up checked the devices as it started them; one that dies a little later (a bad argument, a port
            // in use) makes a useless testbed too, so look again after a grace period.
            await Task.Delay(TimeSpan.FromSeconds(deviceCommand is null ? 0 : 1.5), ct);
            try
            {
                testbed.ThrowIfADeviceDied();
            }
            catch (EdgeSplit.Testbed.Linux.TestbedException)
            {
                testbed.Down();
                throw;
            }
            PrintStatus(testbed.Status(), parse.GetValue(json));
            if (parse.GetValue(detach))
            {
                Log($"detached; run 'edgesplit testbed down {spec.Name}' to remove it");
                return ExitCodes.Ok;
            }
            Log("running; press Ctrl-C to take it down");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            finally
            {
                testbed.Down();
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Down()
    {
        var name = new Argument<string?>("NAME") { Description = "The testbed's name (default: the only one up).", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "Remove every testbed and anything named es-* (namespaces, interfaces, cgroups)." };
        var command = new Command("down", "Take a testbed down: stop its processes, remove its namespaces, links and cgroups.") { name, all };
        CommandRunner.SetAction(command, (parse, _) =>
        {
            if (parse.GetValue(all))
            {
                TestbedCleanup.DownAll(log: Log);
                Log("everything named es-* is removed");
                return Task.FromResult(ExitCodes.Ok);
            }
            RunningTestbed.Open(ResolveName(parse.GetValue(name)), log: Log).Down();
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command Status()
    {
        var name = new Argument<string?>("NAME") { Description = "The testbed's name (default: the only one up).", Arity = ArgumentArity.ZeroOrOne };
        var json = CommonOptions.Json();
        var command = new Command("status", "Show a running testbed: devices, their processes and limits, links and their qdiscs.") { name, json };
        CommandRunner.SetAction(command, (parse, _) =>
        {
            PrintStatus(RunningTestbed.Open(ResolveName(parse.GetValue(name)), log: Log).Status(), parse.GetValue(json));
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command Check()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "A testbed YAML file." };
        var model = new Option<string>("--model")
        {
            Description = $"The reference model each device's speed is measured (and calibrated) with: {string.Join(", ", ReferenceModels.Measured)}.",
            DefaultValueFactory = _ => "mobilenetv2",
        };
        var json = CommonOptions.Json();
        var command = new Command("check", "Bring a testbed up, measure each link's bandwidth and RTT and each device's speed (a reference model's latency), print them next to the configuration and the dilation factor, tear it down.") { file, model, json };
        CommandRunner.SetAction(command, async (parse, ct) =>
        {
            var path = parse.GetValue(file)!.FullName;
            var spec = TestbedSpec.Load(path);
            var reference = parse.GetValue(model)!;
            if (!ReferenceModels.Measured.Contains(reference))
            {
                throw new BadInputException($"--model '{reference}' is not a reference model this host measures; use one of {string.Join(", ", ReferenceModels.Measured)}");
            }
            if (!RunningTestbed.CanUseNamespaces)
            {
                throw new BadInputException("testbed check needs root (namespaces, tc, cgroups): in the loopback fallback shaping is done inside the agents and there is nothing to measure");
            }
            var emulation = TestbedEmulation.Plan(spec, HostCalibration.LoadOrMeasure(Log, ct), reference);
            var name = spec.Name.Length > 18 ? spec.Name[..18] + "-chk" : spec.Name + "-chk";
            var testbed = RunningTestbed.Up(spec with { Name = name }, path, new TestbedOptions { Emulation = emulation, Log = Log });
            CheckReport report;
            try
            {
                report = await TestbedCheck.RunAsync(testbed, emulation with { Spec = spec with { Name = name } }, reference, EdgeSplitExecutable.Probe, Log, ct);
            }
            finally
            {
                testbed.Down();
            }
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(report, Json));
                return ExitCodes.Ok;
            }
            var dilated = report.DilationFactor > 1 ? $", measured dilated x{F(report.DilationFactor)} and divided back" : "";
            var links = new Table().Title($"links of {spec.Name} (emulated{dilated})")
                .AddColumns("link", "configured Mbit/s", "measured a->b", "measured b->a", "configured RTT ms", "measured RTT ms");
            foreach (var l in report.Links)
            {
                links.AddRow($"{l.A} <-> {l.B}", F(l.ConfiguredBandwidthMbps), $"{F(l.MeasuredBandwidthMbps)} ({Pct(l.MeasuredBandwidthMbps, l.ConfiguredBandwidthMbps)})",
                    $"{F(l.MeasuredBandwidthMbpsReverse)} ({Pct(l.MeasuredBandwidthMbpsReverse, l.ConfiguredBandwidthMbps)})", F(l.ConfiguredRttMs), F(l.MeasuredRttMs));
            }
            var devices = new Table().Title($"devices: {Markup.Escape(reference)} latency at batch 1 (emulated{dilated})")
                .AddColumns("device", "unit", "published ms", "calibrated ms", "on this host now", "measured ms", "vs published", "host cores busy");
            foreach (var d in report.Devices)
            {
                devices.AddRow(d.Name, $"{d.Profile} {d.Unit}", d.PublishedMs is { } p ? F(p) : "-", F(d.CalibratedMs),
                    $"{F(d.CalibratedNowMs)} (host {d.HostDrift.ToString("+0%;-0%", CultureInfo.InvariantCulture)})",
                    $"{F(d.MeasuredMs)} ({Pct(d.MeasuredMs, d.CalibratedNowMs)})", Pct(d.MeasuredMs, d.CalibratedMs), d.BusyCores.ToString("0.###", CultureInfo.InvariantCulture));
            }
            AnsiConsole.MarkupLine($"[bold]dilation factor {F(report.DilationFactor)}[/]: {Markup.Escape(report.Dilation)}");
            AnsiConsole.MarkupLine($"[grey]host calibration: {Markup.Escape(report.Host)}; speeds from {Markup.Escape(string.Join(", ", report.Devices.Select(d => d.SpeedBasis).Distinct()))}[/]");
            AnsiConsole.Write(links);
            AnsiConsole.Write(devices);
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape(report.Note)}[/]");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Play()
    {
        var file = new Argument<FileInfo>("SCENARIO") { Description = "A scenario YAML file (see examples/scenarios/)." };
        var name = new Option<string?>("--testbed") { Description = "The running testbed to drive (default: the only one up)." };
        var json = CommonOptions.Json();
        var command = new Command("play", "Drive a running testbed through a scenario: link changes, CPU load, memory pressure, device failures.") { file, name, json };
        CommandRunner.SetAction(command, async (parse, ct) =>
        {
            var scenario = Scenario.Load(parse.GetValue(file)!.FullName);
            var testbed = RunningTestbed.Open(ResolveName(parse.GetValue(name)), log: Log);
            var state = testbed.State;
            var spec = TestbedSpec.Load(state.SpecFile) with { Name = state.Name };
            var emulation = TestbedEmulation.Plan(spec, HostCalibration.LoadOrMeasure(Log, ct), dilation: state.Dilation);
            await using var backend = NamespaceBackend.Attach(testbed, emulation, EdgeSplitExecutable.Load, Log);
            Log($"playing '{scenario.Name}' ({scenario.Events.Count} events over {scenario.Duration.TotalSeconds} s) on '{state.Name}'" +
                (state.Dilation.IsDilated ? $", {state.Dilation.Label}" : ""));
            var played = await ScenarioPlayer.PlayAsync(backend, scenario, state.DilationFactor,
                e => Log($"t={e.At.TotalSeconds,6:0.0} s  {e.Description}"), TimeProvider.System, playFor: null, ct);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    scenario = scenario.Name,
                    testbed = state.Name,
                    dilation_factor = state.DilationFactor,
                    events = played.Select(p => new { at_s = p.At.TotalSeconds, description = p.Description }),
                }, Json));
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Calibrate()
    {
        var name = new Option<string>("--name") { Description = "Name of the profile to print.", DefaultValueFactory = _ => Environment.MachineName.ToLowerInvariant() };
        var template = new Option<FileInfo?>("--like") { Description = "A profile to copy power and network figures (and a GPU unit) from: they cannot be measured in software." };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads, as this board's agent would run (default: every core).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var models = new Option<string>("--models")
        {
            Description = $"Reference models to time, of {string.Join(", ", ReferenceModels.All)} (vgg16 takes ~0.5 GB and seconds a run).",
            DefaultValueFactory = _ => string.Join(',', ReferenceModels.Measured),
        };
        var host = new Option<bool>("--host") { Description = "Instead: measure this host again for the emulator (1 thread, the cached figures device speeds are derived from) and print them." };
        var command = new Command("calibrate", "Time the reference models with ONNX Runtime on this board (batch 1) and print a device profile with its CPU unit.") { name, template, threads, models, host };
        CommandRunner.SetAction(command, (parse, ct) =>
        {
            if (parse.GetValue(host))
            {
                Console.Out.WriteLine(HostCalibration.Refresh(Log, ct).Describe());
                return Task.FromResult(ExitCodes.Ok);
            }
            var like = parse.GetValue(template);
            var baseProfile = like is not null ? DeviceProfile.Load(like.FullName)
                : new DeviceProfile("unknown", 1, 1024, [new ComputeUnit("cpu", new Dictionary<string, double>(), 1, 5, 15)], "cpu", new NetworkProfile("wifi", 100, 50));
            var count = parse.GetValue(threads);
            if (count is < 1 or > 1024) throw new BadInputException($"--threads must be between 1 and 1024, got {count}");
            var chosen = parse.GetValue(models)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
            foreach (var m in chosen.Where(m => !ReferenceModels.All.Contains(m)))
            {
                throw new BadInputException($"--models names '{m}', which is not a reference model; use {string.Join(", ", ReferenceModels.All)}");
            }
            if (chosen.Count == 0) throw new BadInputException("--models is empty");
            Log($"timing {string.Join(", ", chosen)} with ONNX Runtime on {count} thread(s); keep the board otherwise idle...");
            var profile = BoardCalibration.Measure(parse.GetValue(name)!, baseProfile, chosen, count, ct);
            var source = like is null ? "placeholders: measure them with a power meter" : $"copied from {like.Name}";
            Console.Out.Write(profile.ToYaml(
                $"measured by 'edgesplit testbed calibrate' on {DateTime.UtcNow:yyyy-MM-dd}: cores, memory_mb and the cpu unit's reference_ms " +
                $"(ONNX Runtime {HostCalibration.Identity.Runtime}, {count} thread(s), median wall ms at batch 1). Power and network figures are {source}."));
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command Probe()
    {
        var model = new Option<string>("--model") { DefaultValueFactory = _ => "mobilenetv2" };
        var command = new Command("probe", "Internal: the speed probe child process of 'testbed check'.") { model };
        command.Hidden = true;
        CommandRunner.SetAction(command, (parse, _) =>
        {
            SpeedProbe.Serve(parse.GetValue(model)!, Console.In, Console.Out);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command Load()
    {
        var cpu = new Option<int>("--cpu-threads") { DefaultValueFactory = _ => 0 };
        var cores = new Option<double>("--cores") { Description = "Host cores the threads use in all.", DefaultValueFactory = _ => 1 };
        var memory = new Option<int>("--memory-mb") { DefaultValueFactory = _ => 0 };
        var seconds = new Option<double>("--seconds") { DefaultValueFactory = _ => 10 };
        var command = new Command("load", "Internal: a CPU or memory load process that 'testbed play' starts inside a device.") { cpu, cores, memory, seconds };
        command.Hidden = true;
        CommandRunner.SetAction(command, (parse, ct) =>
        {
            LoadGenerator.Run(parse.GetValue(cpu), parse.GetValue(cores), parse.GetValue(memory), TimeSpan.FromSeconds(parse.GetValue(seconds)), ct);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Option<string?> ModelBasis() => new("--model")
    {
        Description = "The model you will serve: devices whose units list its published latency run at exactly that speed (default: the geometric mean over the reference models).",
    };

    private static ProcessLaunch CustomProcess(string template, TestbedDevice device, DeviceState state)
    {
        // Split as System.CommandLine splits a command line: whitespace, with "double quotes" grouping words.
        var words = System.CommandLine.Parsing.CommandLineParser.SplitCommandLine(template.Replace("{name}", device.Name, StringComparison.Ordinal)
            .Replace("{address}", state.ControlAddress, StringComparison.Ordinal)
            .Replace("{port}", state.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)).ToArray();
        return words.Length == 0
            ? throw new BadInputException("--process is empty; give a command, e.g. --process \"sleep infinity\"")
            : new ProcessLaunch(words[0], words[1..]);
    }

    private static string ResolveName(string? name)
    {
        if (name is not null)
        {
            return name;
        }
        var up = RunningTestbed.ListNames();
        return up.Count switch
        {
            1 => up[0],
            0 => throw new BadInputException("no testbed is up; start one with 'edgesplit testbed up FILE.yaml'"),
            _ => throw new BadInputException($"several testbeds are up ({string.Join(", ", up)}); name one"),
        };
    }

    private static void PrintStatus(TestbedStatus status, bool json)
    {
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(status, Json));
            return;
        }
        var dilation = status.DilationFactor > 1 ? $", time dilated x{F(status.DilationFactor)}" : "";
        var devices = new Table().Title($"testbed {status.Name} ({status.Mode.ToString().ToLowerInvariant()}, emulated{dilation}; source: {status.Source})")
            .AddColumns("device", "profile", "unit", "address", "pid", "running", "host cores busy", "memory MB", "slowdown");
        foreach (var d in status.Devices)
        {
            devices.AddRow(d.Name, d.Profile, d.Unit, $"{d.Address}:{d.Port}", d.Pid?.ToString(CultureInfo.InvariantCulture) ?? "-",
                d.Running ? "yes" : "no", d.BusyCores.ToString("0.###", CultureInfo.InvariantCulture), d.MemoryMb.ToString(CultureInfo.InvariantCulture), F(d.Slowdown) + "x");
        }
        var links = new Table().AddColumns("link", "addresses", "Mbit/s", "latency ms (one way, by sender)", "qdisc");
        foreach (var l in status.Links)
        {
            links.AddRow($"{l.A} <-> {l.B}", $"{l.AddressA} / {l.AddressB}", F(l.BandwidthMbps), F(l.LatencyMs), Markup.Escape(l.Qdisc));
        }
        AnsiConsole.Write(devices);
        AnsiConsole.Write(links);
        AnsiConsole.MarkupLine($"[grey]speeds from this host's calibration: {Markup.Escape(status.Host)}[/]");
    }

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Pct(double measured, double configured) =>
        Math.Round((measured - configured) / configured, 3).ToString("+0.0%;-0.0%;0.0%", CultureInfo.InvariantCulture);

    private static void Log(string message) => Console.Error.WriteLine(message);
}
