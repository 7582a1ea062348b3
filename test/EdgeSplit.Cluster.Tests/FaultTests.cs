using System.Net;
using System.Security.Cryptography;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Tests;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Tests;

/// <summary>The faults an adversarial tester found (issue 11), each reproduced on real agents on loopback.</summary>
public sealed class FaultTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_execute_naming_a_bad_reply_address_is_refused_and_the_plan_keeps_serving()
    {
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 2, cuts: [3], attemptTimeout: TimeSpan.FromSeconds(3));
        var version = cluster.Coordinator!.CurrentPlan!.Version;
        var (channel, invoker) = GrpcChannels.Open(cluster.Agents[0].Address, token: null);
        using (channel)
        {
            var bad = new Proto.ExecuteRequest { RequestId = "garbage", Version = version, Hop = 0, ReplyTo = "not a host" };
            bad.Tensors.Add(WireMapping.ToProto(Reference.Input(0)));
            var refused = await Assert.ThrowsAsync<RpcException>(async () => await new Proto.Agent.AgentClient(invoker).ExecuteAsync(bad));
            Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        }

        // Before the fix the address ended the hop's send loop: every later request on that hop hung.
        var run = await LoadTests.RunLoadAsync(cluster, model, onCompleted: null, requests: 16);
        Assert.Empty(run.Failures);
        Assert.Equal(0, cluster.Coordinator.Status().Retried);
    }

    [Fact]
    public async Task A_deploy_naming_a_bad_next_address_is_refused_and_the_agent_keeps_answering()
    {
        await using var cluster = await TestCluster.StartAsync(SmallModels.Residual(), 1);
        var (channel, invoker) = GrpcChannels.Open(cluster.Agents[0].Address, token: null);
        using var _ = channel;
        var agent = new Proto.Agent.AgentClient(invoker);
        var deploy = new Proto.DeployRequest { Version = 77, ReplyTo = cluster.Coordinator!.Address, Hops = { new Proto.HopConfig { Hop = 0, NextAddress = "not a host", Forwards = { "x" }, Inputs = { } } } };

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await agent.DeployAsync(deploy));

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Equal("dev0", (await agent.PingAsync(new Proto.PingRequest())).Name);
        await Assert.ThrowsAsync<Graph.BadInputException>(() => CoordinatorHost.StartAsync(OnnxServing.Create(Graph.OnnxModel.Parse(SmallModels.Residual(), "r"), "r"),
            cluster.Endpoints(), new FixedCutsPlanSource([]), new CoordinatorOptions { AdvertiseAddress = "not a host" }));
    }

    [Fact]
    public async Task An_unauthenticated_call_is_refused_from_its_headers_before_its_body_is_read()
    {
        await using var cluster = await TestCluster.StartAsync(SmallModels.Residual(), 1, token: "s3cret");
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var body = new EndlessGrpcBody(announcedBytes: 60 << 20);
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://{cluster.Coordinator!.Address}/edgesplit.v1.Coordinator/Infer")
        {
            Content = body,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        // The body announces 60 MiB and never ends: a server that read it before checking the token would never answer.
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);

        Assert.Equal("16", response.Headers.TryGetValues("grpc-status", out var status) ? status.Single() : response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.True(body.Sent < 60 << 20, $"{body.Sent} bytes went out before the refusal");
    }

    [Fact]
    public async Task With_the_source_device_dead_requests_enter_at_the_coordinator_and_nothing_fails()
    {
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [1, 3]);
        Task? kill = null;
        var run = await LoadTests.RunLoadAsync(cluster, model, onCompleted: done =>
        {
            if (done == 40)
            {
                kill = cluster.Agents[0].KillAsync();
            }
        }, requests: 120);
        await kill!;

        Assert.Empty(run.Failures);
        var status = cluster.Coordinator!.Status();
        Assert.DoesNotContain("dev0", status.Plan!.Stages.Select(s => s.Device));
        Assert.Contains("source device dev0 is down", status.Degraded);
        Assert.Equal(0, status.Failed);
        // Deploys are not retried in a storm: a handful of switches, not one per health probe.
        Assert.InRange(status.Switches.Count, 2, 6);
    }

    [Fact]
    public async Task A_fixed_split_grows_back_to_a_device_that_returns()
    {
        await using var cluster = await TestCluster.StartAsync(SmallModels.Residual(), 3, cuts: [1, 3]);
        var coordinator = cluster.Coordinator!;
        using var bound = new CancellationTokenSource(Bound);
        await cluster.Agents[2].KillAsync();
        await coordinator.WaitForStatusAsync(s => s.Plan?.Stages.Count == 2 && s.Plan.Stages.All(st => st.Device != "dev2"), bound.Token);
        Assert.NotEmpty((await coordinator.InferAsync([Reference.Input(1)])).Outputs);

        await cluster.RestartAgentAsync(2);
        var back = await coordinator.WaitForStatusAsync(s => s.Plan?.Stages.Count == 3, bound.Token);

        Assert.Equal(["dev0", "dev1", "dev2"], back.Plan!.Stages.Select(s => s.Device));
        Assert.Equal(back.Plan.Version, (await coordinator.InferAsync([Reference.Input(2)])).PlanVersion);
    }

    [Fact]
    public async Task A_tampered_cached_partition_is_hashed_again_and_uploaded_anew()
    {
        var model = SmallModels.Residual();
        var onnx = Graph.OnnxModel.Parse(model, "residual");
        var served = OnnxServing.Create(onnx, "residual");
        var whole = served.Partitions.Split([])[0];
        var cache = Directory.CreateTempSubdirectory("edgesplit-tampered-").FullName;
        try
        {
            // Valid ONNX with other weights, under the name of the real partition's hash.
            File.WriteAllBytes(Path.Combine(cache, whole.Sha256 + ".onnx"), OnnxServing.Create(Graph.OnnxModel.Parse(SmallModels.Residual(seed: 99), "other"), "other").Partitions.Split([])[0].OnnxBytes);
            await using var agent = await AgentHost.StartAsync(new AgentOptions("dev0") { CacheDirectory = cache, ConfigureLogging = TestCluster.Logging });
            await using var coordinator = await CoordinatorHost.StartAsync(served, [new AgentEndpoint("dev0", agent.Address)], new FixedCutsPlanSource([]), new CoordinatorOptions { ConfigureLogging = TestCluster.Logging });
            using var session = Reference.Session(model);
            for (var seed = 0; seed < 20; seed++)
            {
                var input = Reference.Input(seed);
                var result = await coordinator.InferAsync([input]);
                Assert.True(Reference.MaxAbsDiff(Reference.Monolithic(session, input), result.Outputs[0].ToFloats()) <= 1e-4, $"request {seed} was answered by the tampered partition");
            }
            Assert.Equal(whole.Sha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(cache, whole.Sha256 + ".onnx")))));
            await Assert.ThrowsAsync<Graph.BadInputException>(() => AgentHost.StartAsync(new AgentOptions("..")));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public async Task An_agent_sends_its_token_only_to_peers_the_coordinator_configured()
    {
        await using var peer = await HeaderRecorder.StartAsync();
        var cache = Directory.CreateTempSubdirectory("edgesplit-token-").FullName;
        try
        {
            await using var agent = await AgentHost.StartAsync(new AgentOptions("solo") { CacheDirectory = cache, Token = "s3cret", ConfigureLogging = TestCluster.Logging });
            var (channel, invoker) = GrpcChannels.Open(agent.Address, "s3cret");
            using var _ = channel;
            var client = new Proto.Agent.AgentClient(invoker);

            await TwoSamplesAsync(client, peer.Address);
            Assert.NotEmpty(peer.Authorizations);
            Assert.All(peer.Authorizations, a => Assert.Equal("", a));

            // Once the coordinator names it in a Deploy, the peer is one of the cluster's.
            await client.DeployAsync(new Proto.DeployRequest { Version = 1, ReplyTo = "127.0.0.1:1", Peers = { peer.Address } });
            peer.Authorizations.Clear();
            await TwoSamplesAsync(client, peer.Address);
            Assert.Contains("Bearer s3cret", peer.Authorizations);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }

        static async Task TwoSamplesAsync(Proto.Agent.AgentClient client, string peer)
        {
            using var cts = new CancellationTokenSource(Bound);
            using var call = client.Metrics(new Proto.MetricsRequest { IntervalMs = 20, Peers = { peer } }, cancellationToken: cts.Token);
            for (var i = 0; i < 2 && await call.ResponseStream.MoveNext(cts.Token); i++)
            {
            }
        }
    }

    [Fact]
    public async Task The_prometheus_endpoint_asks_for_the_token()
    {
        var cache = Directory.CreateTempSubdirectory("edgesplit-metrics-").FullName;
        try
        {
            await using var agent = await AgentHost.StartAsync(new AgentOptions("m") { CacheDirectory = cache, Token = "s3cret", MetricsListen = "127.0.0.1:0" });
            using var http = new HttpClient();
            var url = $"http://{agent.MetricsAddress}/metrics";

            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(url)).StatusCode);
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("authorization", "Bearer s3cret");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("edgesplit_cpu_utilisation_ratio", await response.Content.ReadAsStringAsync());
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    /// <summary>A request body that announces a large gRPC message and then never ends (until disposed).</summary>
    private sealed class EndlessGrpcBody(int announcedBytes) : HttpContent
    {
        private readonly CancellationTokenSource _stop = new();
        private long _sent;

        public long Sent => Interlocked.Read(ref _sent);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var header = new byte[5];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), announcedBytes);
            await stream.WriteAsync(header);
            var chunk = new byte[64 * 1024];
            await stream.WriteAsync(chunk);
            Interlocked.Add(ref _sent, header.Length + chunk.Length);
            await Task.Delay(Timeout.Infinite, _stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_stop.IsCancellationRequested)
            {
                _stop.Cancel();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>An HTTP/2 listener standing in for a host nobody configured: it records the authorization header of every call and refuses it.</summary>
    private sealed class HeaderRecorder : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private HeaderRecorder(WebApplication app, string address)
        {
            _app = app;
            Address = address;
        }

        public string Address { get; }

        public System.Collections.Concurrent.ConcurrentBag<string> Authorizations { get; } = [];

        public static async Task<HeaderRecorder> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
            var app = builder.Build();
            HeaderRecorder? recorder = null;
            app.Run(context =>
            {
                recorder!.Authorizations.Add(context.Request.Headers.Authorization.ToString());
                context.Response.ContentType = "application/grpc";
                context.Response.Headers["grpc-status"] = "12";
                return Task.CompletedTask;
            });
            await app.StartAsync();
            var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            recorder = new HeaderRecorder(app, $"127.0.0.1:{new Uri(bound).Port}");
            return recorder;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
