using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Planning;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Codec;
using EdgeSplit.Tests;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace EdgeSplit.Cluster.Tests;

/// <summary>Real agents on loopback port 0 plus a coordinator, torn down together; optionally each agent behind a <see cref="FreezableProxy"/>.</summary>
internal sealed class TestCluster : IAsyncDisposable
{
    private readonly string _cacheRoot = Directory.CreateTempSubdirectory("edgesplit-cluster-tests-").FullName;
    private readonly List<AgentHost> _everyAgent = [];

    public List<AgentHost> Agents { get; } = [];

    /// <summary>The proxy in front of each agent when started with <c>proxied</c>.</summary>
    public List<FreezableProxy> Proxies { get; } = [];

    public CoordinatorHost? Coordinator { get; private set; }

    public byte[] Model { get; private set; } = [];

    public string? Token { get; private set; }

    /// <summary>TLS of every agent and the coordinator (and of load clients), when started with it.</summary>
    public Cluster.Transport.TlsSettings? Tls { get; private set; }

    public static async Task<TestCluster> StartAsync(byte[] model, int agents, IReadOnlyList<int>? cuts = null, string? token = null, TimeSpan? attemptTimeout = null,
        bool proxied = false, Func<CoordinatorOptions, CoordinatorOptions>? configure = null, IPlanSource? source = null, Cluster.Transport.TlsSettings? tls = null)
    {
        var cluster = new TestCluster { Model = model, Token = token, Tls = tls };
        try
        {
            for (var i = 0; i < agents; i++)
            {
                var agent = await cluster.StartAgentAsync(i, "127.0.0.1:0");
                cluster.Agents.Add(agent);
                if (proxied)
                {
                    cluster.Proxies.Add(FreezableProxy.Start(agent.Address));
                }
            }
            // The real Graph partitioner behind the coordinator, as 'edgesplit serve' uses it.
            var served = OnnxServing.Create(Graph.OnnxModel.Parse(model, "test"), "test");
            source ??= cuts is null ? new EvenComputePlanSource() : new FixedCutsPlanSource(cuts);
            var options = new CoordinatorOptions
            {
                Token = token,
                AttemptTimeout = attemptTimeout ?? TimeSpan.FromSeconds(3),
                HealthInterval = TimeSpan.FromMilliseconds(300),
                ProbeTimeout = TimeSpan.FromMilliseconds(500),
                MaxAttempts = 5,
                Tls = tls,
                ConfigureLogging = Logging,
            };
            cluster.Coordinator = await CoordinatorHost.StartAsync(served, cluster.Endpoints(), source, configure?.Invoke(options) ?? options);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The agents as the coordinator knows them (through their proxies when proxied).</summary>
    public IReadOnlyList<AgentEndpoint> Endpoints() =>
        [.. Agents.Select((a, i) => new AgentEndpoint(a.Name, Proxies.Count > i ? Proxies[i].Address : a.Address))];

    /// <summary>Starts agent <paramref name="index"/> again where it listened before (a device that returns).</summary>
    public async Task<AgentHost> RestartAgentAsync(int index)
    {
        var agent = await StartAgentAsync(index, Agents[index].Address);
        Agents[index] = agent;
        return agent;
    }

    private async Task<AgentHost> StartAgentAsync(int index, string listen)
    {
        var agent = await AgentHost.StartAsync(new AgentOptions($"dev{index}", listen)
        {
            CacheDirectory = Path.Combine(_cacheRoot, $"dev{index}"),
            Token = Token,
            Tls = Tls,
            SendTimeout = TimeSpan.FromSeconds(3),
            ConfigureLogging = Logging,
        });
        _everyAgent.Add(agent);
        return agent;
    }

    /// <summary>EDGESPLIT_TEST_LOG=1 prints agent and coordinator logs while debugging a test.</summary>
    internal static Action<ILoggingBuilder>? Logging =>
        Environment.GetEnvironmentVariable("EDGESPLIT_TEST_LOG") == "1"
            ? b => b.SetMinimumLevel(LogLevel.Debug).AddConsole()
            : null;

    public async ValueTask DisposeAsync()
    {
        foreach (var proxy in Proxies)
        {
            proxy.Thaw();
        }
        if (Coordinator is not null)
        {
            await Coordinator.DisposeAsync();
        }
        foreach (var agent in _everyAgent)
        {
            await agent.DisposeAsync();
        }
        foreach (var proxy in Proxies)
        {
            await proxy.DisposeAsync();
        }
        try
        {
            Directory.Delete(_cacheRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Seeded inputs and the monolithic reference output.</summary>
internal static class Reference
{
    public static long[] InputShape => [1, SmallModels.Channels, SmallModels.Size, SmallModels.Size];

    public static WireTensor Input(int seed)
    {
        var random = new Random(seed);
        var values = Enumerable.Range(0, (int)InputShape.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        return WireTensor.FromFloats("x", InputShape, values);
    }

    public static float[] Monolithic(InferenceSession session, WireTensor input)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input.ToFloats(), input.Shape);
        using var outputs = session.Run(new RunOptions(), ["x"], [value], [session.OutputNames[0]]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b).Max(p => Math.Abs((double)p.First - p.Second));
    }

    public static InferenceSession Session(byte[] model) => OrtSessions.Create(model);

    public static Plan Chain(int nodeCount, IReadOnlyList<int> cuts, params string[] devices) => Plan.FromCuts(0, nodeCount, cuts, devices);
}
