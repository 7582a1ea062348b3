using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeSplit.Testbed;

/// <summary>How a testbed emulates: kernel namespaces, tc and cgroups (root), or in-process on loopback.</summary>
public enum TestbedMode
{
    Namespaces,
    Loopback,
}

/// <summary>A running emulated device: where it listens, its limits and its process.</summary>
public sealed record DeviceState
{
    public required string Name { get; init; }
    public required string Profile { get; init; }
    /// <summary>The compute unit emulated (cpu, or the board's gpu).</summary>
    public required string Unit { get; init; }
    public string? Namespace { get; init; }
    /// <summary>Address the coordinator (root namespace) uses; in loopback mode 127.0.0.1.</summary>
    public required string ControlAddress { get; init; }
    public required int Port { get; init; }
    public string? HostInterface { get; init; }
    public IReadOnlyList<string> CgroupDirectories { get; init; } = [];
    public bool CgroupV2 { get; init; }
    public required string Cpus { get; init; }
    /// <summary>Host cores the device uses while it computes without pause: its unit's speed in host cores over the dilation factor.</summary>
    public required double BusyCores { get; init; }
    public required long MemoryBytes { get; init; }
    /// <summary>Host wall seconds per host CPU second of inference (the agent stretches its compute to this; dilation included).</summary>
    public required double Slowdown { get; init; }
    /// <summary>Which reference model(s) the speed came from.</summary>
    public required string SpeedBasis { get; init; }
    /// <summary>Jobs that share the unit fairly (its cores; 1 for a GPU): the weight scenario loads get.</summary>
    public required int Parallelism { get; init; }
    public required string LinksFile { get; init; }
    public required string LogFile { get; init; }
    public IReadOnlyList<string> Command { get; init; } = [];
    public int? Pid { get; set; }
    /// <summary>Busy jobs a scenario runs beside the agent now (for the share of the unit it reports as taken).</summary>
    public int CompetingJobs { get; set; }
}

/// <summary>A running emulated link: the veth ends, their addresses and the current shaping.</summary>
public sealed record LinkState
{
    public required string A { get; init; }
    public required string B { get; init; }
    public string? InterfaceA { get; init; }
    public string? InterfaceB { get; init; }
    public required string AddressA { get; init; }
    public required string AddressB { get; init; }
    public required double BandwidthMbps { get; set; }
    public required double LatencyMs { get; set; }
}

/// <summary>
/// Everything a testbed created, written before each thing is created so that <c>down</c>, a
/// later <c>up</c> (cleaning leftovers) or the watchdog can remove it from another process.
/// </summary>
public sealed record TestbedState
{
    public required string Name { get; init; }
    public required TestbedMode Mode { get; init; }
    public required int Slot { get; init; }
    public required string Source { get; init; }
    public required string SpecFile { get; init; }
    /// <summary>This host's calibration the speeds came from, in one line.</summary>
    public required string Host { get; init; }
    /// <summary>The time dilation factor (1 = real time); see <see cref="TimeDilation"/>.</summary>
    public double DilationFactor { get; init; } = 1;
    /// <summary>The process that owns a foreground testbed; when it dies the testbed is torn down. Null when detached.</summary>
    public int? OwnerPid { get; set; }
    public List<string> Namespaces { get; init; } = [];
    public List<string> HostInterfaces { get; init; } = [];
    public List<DeviceState> Devices { get; init; } = [];
    public List<LinkState> Links { get; init; } = [];
    public int? WatchdogPid { get; set; }

    /// <summary>
    /// The host address every device can reach a coordinator at (its port is the coordinator's):
    /// in namespaces the host end of the first device's control veth, routed from each namespace
    /// as a single /32, so devices still cannot reach one another except over their links.
    /// </summary>
    public string CoordinatorAddress { get; init; } = "127.0.0.1";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public TimeDilation Dilation => new(DilationFactor);

    public DeviceState Device(string name) => Devices.FirstOrDefault(d => d.Name == name)
        ?? throw new EdgeSplit.Graph.BadInputException($"testbed '{Name}' has no device '{name}'; it has {string.Join(", ", Devices.Select(d => d.Name))}");

    public LinkState? Link(string a, string b) => Links.FirstOrDefault(l => (l.A == a && l.B == b) || (l.A == b && l.B == a));

    /// <summary>Every device's agent, at the address a coordinator on the host reaches it on.</summary>
    public IReadOnlyList<EdgeSplit.Cluster.Coordinator.AgentEndpoint> AgentEndpoints() =>
        [.. Devices.Select(d => new EdgeSplit.Cluster.Coordinator.AgentEndpoint(d.Name, $"{d.ControlAddress}:{d.Port}"))];

    /// <summary>Every linked (from, to) pair's address, for a coordinator's peer table.</summary>
    public IReadOnlyDictionary<(string From, string To), string> PeerAddresses() =>
        Devices.SelectMany(a => Devices.Where(b => b.Name != a.Name).Select(b => (From: a.Name, To: b.Name)))
            .Select(p => (p, Address: AddressOf(p.From, p.To)))
            .Where(x => x.Address is not null)
            .ToDictionary(x => x.p, x => x.Address!);

    /// <summary>The address device <paramref name="from"/> uses to reach <paramref name="to"/> (over their link), or null if unlinked.</summary>
    public string? AddressOf(string from, string to)
    {
        if (Mode == TestbedMode.Loopback)
        {
            return Link(from, to) is null ? null : $"127.0.0.1:{Device(to).Port}";
        }
        return Link(from, to) is { } link ? $"{(link.A == to ? link.AddressA : link.AddressB)}:{Device(to).Port}" : null;
    }

    public void Save(string file)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var temp = file + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(this, Json));
        File.Move(temp, file, overwrite: true);
    }

    public static TestbedState Load(string file) =>
        JsonSerializer.Deserialize<TestbedState>(File.ReadAllText(file), Json) ?? throw new IOException($"{file} is empty");

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
