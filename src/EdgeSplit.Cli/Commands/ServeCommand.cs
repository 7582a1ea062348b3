using System.CommandLine;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Graph;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using EdgeSplit.Testbed;
using EdgeSplit.Testbed.Calibration;

namespace EdgeSplit.Cli.Commands;

/// <summary><c>edgesplit serve</c>: the coordinator. Deploys the plan's partitions on the agents and serves Infer.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "ONNX model to serve.", Required = true };
        var agents = new Option<string?>("--agents") { Description = "Agents as NAME=HOST:PORT,NAME=HOST:PORT,... in plan order (or --on-testbed). Without either, serve waits for agents to join (agent --join); agents may join as well." };
        var minAgents = new Option<int>("--min-agents") { Description = "Without --agents: how many agents must join before the first plan.", DefaultValueFactory = _ => 1 };
        var onTestbed = new Option<string?>("--on-testbed") { Description = "Serve the agents of a running testbed (from 'testbed up'): agents, the links between them, the source device and where results are delivered come from its state; --listen's port is kept." };
        var listen = new Option<string>("--listen") { Description = "HOST:PORT the coordinator listens on.", DefaultValueFactory = _ => "127.0.0.1:5000" };
        var split = new Option<string?>("--split") { Description = "Fixed cut indices C1,C2,... (default: split measured compute evenly over the agents)." };
        var token = new TokenOptions();
        var listeners = new ListenerOptions();
        var source = new Option<string?>("--source") { Description = "Device where requests enter (the camera); default: the first agent." };
        var compress = new Option<string>("--compress") { Description = "Feature maps between agents: none, fp16 or int8.", DefaultValueFactory = _ => "none" };
        var advertise = new Option<string?>("--advertise") { Description = "HOST:PORT agents deliver results to (default: the listen address)." };
        var planner = new Option<string?>("--planner") { Description = "Adaptive planner: static, greedy, optimal, rl or oracle (default without --split: optimal)." };
        var objective = new Option<string>("--objective") { Description = "What the planner minimises: latency, energy, throughput or weighted.", DefaultValueFactory = _ => "latency" };
        var noCorrection = new Option<bool>("--no-correction") { Description = "Switch off the cost model's online correction from observed stage and hop times." };
        var rlPolicy = new Option<FileInfo?>("--rl-policy") { Description = "rl: policy file loaded at start (if it exists) and saved on exit." };
        var metricsListen = new Option<string?>("--metrics-listen") { Description = "HOST:PORT of an extra HTTP/1 endpoint serving Prometheus text at /metrics." };
        var dashboard = new Option<string?>("--dashboard") { Description = "HOST:PORT of the live dashboard in the browser (HTTP/1.1 on the coordinator's own Kestrel; asks for the token too)." };
        var testbed = new Option<string?>("--testbed") { Description = "A testbed YAML file: the planner takes each device's relative speed, memory and power model, and its links until measured." };
        var energyWeight = new Option<double>("--energy-weight") { Description = "Milliseconds one joule is worth, for --objective weighted.", DefaultValueFactory = _ => 100 };
        var even = new Option<bool>("--even") { Description = "No planner: split measured compute evenly over the agents (the old default)." };
        var fps = CommonOptions.PlanFps();
        var command = new Command("serve", "Run the coordinator: deploy partitions on the agents, serve Infer, re-plan from live measurements, survive dead agents.")
        {
            model, agents, minAgents, onTestbed, listen, split, source, compress, advertise, planner, objective, noCorrection, rlPolicy, even, metricsListen, testbed, energyWeight, fps, dashboard,
        };
        token.AddTo(command);
        listeners.AddTo(command);
        CommandRunner.SetAction(command, async (parse, ct) =>
        {
            var file = parse.GetValue(model)!;
            var onnx = OnnxModel.Load(file.FullName);
            var bed = parse.GetValue(onTestbed) is { } bedName ? OnTestbed(bedName, parse.GetValue(agents)) : null;
            // Neither --agents nor a testbed: agents join on their own.
            var endpoints = bed?.AgentEndpoints() ?? (parse.GetValue(agents) is { } list ? ParseAgents(list) : []);
            var waitFor = parse.GetValue(minAgents);
            if (waitFor < 1)
            {
                throw new BadInputException($"--min-agents must be at least 1, got {waitFor}");
            }
            var cuts = ParseCuts(parse.GetValue(split), onnx.Nodes.Count, endpoints.Count == 0 ? waitFor : endpoints.Count);
            var compression = FeatureMapCodec.Parse(parse.GetValue(compress));
            var verbose = parse.GetValue(CommonOptions.Verbose);
            var plannerName = parse.GetValue(planner);
            if (cuts is not null && plannerName is not null)
            {
                throw new BadInputException("--split fixes the plan; drop it to use --planner");
            }
            if (plannerName is not null && !PlannerRegistry.Names.Contains(plannerName.Trim().ToLowerInvariant()))
            {
                throw new BadInputException($"unknown planner '{plannerName}'; use one of {string.Join(", ", PlannerRegistry.Names)}");
            }
            if (plannerName?.Trim().ToLowerInvariant() == "oracle")
            {
                throw new BadInputException("the oracle planner needs recorded conditions and is for evaluation only; use static, greedy, optimal or rl");
            }
            var weight = parse.GetValue(energyWeight);
            if (!(weight >= 0))
            {
                throw new BadInputException($"--energy-weight must be >= 0, got {weight}");
            }
            // On a dilated testbed the measured times are on its slower clock; the frame interval stretches with them.
            var goal = CommonOptions.AtFrameRate(Objective.Parse(parse.GetValue(objective)!, weight), parse.GetValue(fps), bed?.Dilation.Factor ?? 1);
            var listenAt = parse.GetValue(listen)!;
            var options = new CoordinatorOptions
            {
                // On a testbed the agents live in namespaces: listen on every address and tell them the one they can reach.
                Listen = bed is null ? listenAt : $"0.0.0.0:{PortOf(listenAt)}",
                Token = token.Resolve(parse),
                SourceDevice = parse.GetValue(source) ?? bed?.Source,
                Compression = compression,
                AdvertiseAddress = parse.GetValue(advertise) ?? (bed is null ? null : $"{bed.CoordinatorAddress}:{PortOf(listenAt)}"),
                PeerAddresses = bed?.PeerAddresses(),
                MetricsInterval = TimeSpan.FromSeconds(1),
                MinAgents = waitFor,
                MetricsListen = parse.GetValue(metricsListen),
                DashboardListen = parse.GetValue(dashboard),
                HealthListen = listeners.ResolveHealthListen(parse),
                Tls = listeners.ResolveTls(parse, server: true),
                ConfigureLogging = logging => StderrLogging.Configure(logging, verbose),
            };
            // A dilated testbed runs slower than the devices it emulates: the coordinator's timers stretch with it.
            options = bed?.Dilation.Apply(options) ?? options;
            var name = Path.GetFileNameWithoutExtension(file.Name);
            if (endpoints.Count == 0)
            {
                await Console.Error.WriteLineAsync($"no --agents: waiting on {options.Listen} for {waitFor} agent(s) to join (edgesplit agent --join {options.AdvertiseAddress ?? options.Listen})");
            }
            CoordinatorHost host;
            if (cuts is not null)
            {
                host = await CoordinatorHost.StartAsync(OnnxServing.Create(onnx, name), endpoints, new FixedCutsPlanSource(cuts), options, ct: ct);
            }
            else if (parse.GetValue(even))
            {
                await Console.Error.WriteLineAsync($"measuring compute per node of {file.Name} ({onnx.Nodes.Count} nodes)...");
                var costs = ModelProfiling.Measure(onnx, options: new ProfilerOptions(WarmupRuns: 1, TimedRuns: 5, ProfiledRuns: 2)).Timing.NodeMs;
                host = await CoordinatorHost.StartAsync(OnnxServing.Create(onnx, name, costs), endpoints, new EvenComputePlanSource(), options, ct: ct);
            }
            else
            {
                await Console.Error.WriteLineAsync($"profiling {file.Name} ({onnx.Nodes.Count} nodes) on this machine for the planner...");
                var profile = ModelProfiling.Measure(onnx, options: new ProfilerOptions(WarmupRuns: 1, TimedRuns: 5, ProfiledRuns: 2)).Profile;
                await Console.Error.WriteLineAsync($"measured {profile.ReferenceNodeMs.Sum():F2} ms per inference on this machine (the reference speed)");
                IReadOnlyDictionary<string, DeviceSpec>? devices = null;
                IReadOnlyList<LinkSpec>? links = null;
                if ((parse.GetValue(testbed) ?? bed?.SpecFile) is { } testbedFile)
                {
                    var emulation = TestbedEmulation.Plan(EdgeSplit.Testbed.Config.TestbedSpec.Load(testbedFile), HostCalibration.LoadOrMeasure(message => Console.Error.WriteLine(message)), name, dilation: bed?.Dilation);
                    var described = EdgeSplit.Evaluation.EmulatedConditions.DescribedState(emulation, profile);
                    devices = described.Devices.ToDictionary(d => d.Name, StringComparer.Ordinal);
                    links = described.Links;
                    var unknown = endpoints.Where(e => !devices.ContainsKey(e.Name)).Select(e => e.Name).ToList();
                    if (unknown.Count > 0)
                    {
                        throw new BadInputException($"agents [{string.Join(", ", unknown)}] are not devices of {testbedFile}; name agents as the testbed does");
                    }
                }
                var adaptive = new AdaptiveOptions(plannerName ?? "optimal", goal, devices, !parse.GetValue(noCorrection), parse.GetValue(rlPolicy)?.FullName) { Links = links };
                adaptive = bed?.Dilation.Apply(adaptive) ?? adaptive;
                host = await CoordinatorHost.StartAsync(OnnxServing.Create(onnx, name, profile.ReferenceNodeMs) with { Profile = profile }, endpoints, adaptive, options, ct);
            }
            await using var _ = host;
            await Console.Error.WriteLineAsync($"serving {file.Name} on {host.Address}: plan {host.CurrentPlan}");
            if (host.HealthAddress is { } healthAt)
            {
                await Console.Error.WriteLineAsync($"grpc.health.v1 without token on {healthAt}");
            }
            if (host.DashboardAddress is { } page)
            {
                var scheme = options.Tls is null ? "http" : "https";
                await Console.Error.WriteLineAsync($"dashboard: {scheme}://{page}/{(options.Token is null ? "" : $" (asks for the token once, or open it as {scheme}://{page}/?token=TOKEN)")}");
            }
            try
            {
                await host.WaitAsync(ct);
            }
            catch (OperationCanceledException)
            {
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The state of a running testbed.</summary>
    private static EdgeSplit.Testbed.TestbedState OnTestbed(string name, string? agents)
    {
        if (agents is not null)
        {
            throw new BadInputException("--on-testbed takes the agents from the testbed; drop --agents");
        }
        if (!EdgeSplit.Testbed.RunningTestbed.ListNames().Contains(name, StringComparer.Ordinal))
        {
            var running = EdgeSplit.Testbed.RunningTestbed.ListNames();
            throw new BadInputException($"no testbed '{name}' is up; start one with 'edgesplit testbed up FILE' (up now: {(running.Count == 0 ? "none" : string.Join(", ", running))})");
        }
        return EdgeSplit.Testbed.RunningTestbed.Open(name).State;
    }

    private static int PortOf(string listen)
    {
        var colon = listen.LastIndexOf(':');
        return colon > 0 && int.TryParse(listen[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            ? port
            : throw new BadInputException($"--listen '{listen}' needs a port (HOST:PORT) so agents on the testbed can be told where to deliver");
    }

    internal static IReadOnlyList<AgentEndpoint> ParseAgents(string text)
    {
        var list = new List<AgentEndpoint>();
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0 || !parts[1].Contains(':'))
            {
                throw new BadInputException($"'{item}' in --agents is not NAME=HOST:PORT");
            }
            DeviceName.Check(parts[0]);
            Endpoints.PeerUri(parts[1]);
            list.Add(new AgentEndpoint(parts[0], parts[1]));
        }
        if (list.Count == 0)
        {
            throw new BadInputException("--agents is empty; give NAME=HOST:PORT,...");
        }
        return list;
    }

    internal static IReadOnlyList<int>? ParseCuts(string? text, int nodeCount, int agentCount)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        var cuts = new List<int>();
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(item, out var cut) || cut < 0 || cut > nodeCount - 2)
            {
                throw new BadInputException($"cut '{item}' in --split is not an index 0..{nodeCount - 2} (see 'edgesplit inspect')");
            }
            if (cuts.Count > 0 && cut <= cuts[^1])
            {
                throw new BadInputException("--split cut indices must be ascending and distinct");
            }
            cuts.Add(cut);
        }
        if (cuts.Count + 1 > agentCount)
        {
            throw new BadInputException($"--split makes {cuts.Count + 1} segments but only {agentCount} agents are given (or, without --agents, awaited with --min-agents)");
        }
        return cuts;
    }
}
