using System.Security.Cryptography;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Tests;
using Google.Protobuf;
using Grpc.Core;
using Proto = EdgeSplit.Cluster.Protos;

namespace EdgeSplit.Cluster.Tests;

public sealed class AgentProtocolTests
{
    [Fact]
    public async Task Calls_without_the_token_are_refused_on_agents_and_coordinator()
    {
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 2, token: "s3cret");

        using (var anonymous = new ClusterClient(cluster.Coordinator!.Address))
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => anonymous.InferAsync([Reference.Input(0)]));
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        }
        using (var wrong = new ClusterClient(cluster.Coordinator.Address, "guess"))
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => wrong.StatusAsync());
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        }
        var (channel, invoker) = GrpcChannels.Open(cluster.Agents[0].Address, token: null);
        using (channel)
        {
            var agent = new Proto.Agent.AgentClient(invoker);
            var ping = await Assert.ThrowsAsync<RpcException>(async () => await agent.PingAsync(new Proto.PingRequest()));
            Assert.Equal(StatusCode.Unauthenticated, ping.StatusCode);
            var health = await Assert.ThrowsAsync<RpcException>(async () => await new Grpc.Health.V1.Health.HealthClient(invoker).CheckAsync(new Grpc.Health.V1.HealthCheckRequest()));
            Assert.Equal(StatusCode.Unauthenticated, health.StatusCode);
        }
        using var allowed = new ClusterClient(cluster.Coordinator.Address, "s3cret");
        var result = await allowed.InferAsync([Reference.Input(0)]);
        Assert.Equal("y", result.Outputs[0].Name);
    }

    [Fact]
    public async Task Malformed_and_oversized_messages_get_a_clear_status_and_the_agent_keeps_answering()
    {
        var cache = Directory.CreateTempSubdirectory("edgesplit-agent-").FullName;
        await using var host = await AgentHost.StartAsync(new AgentOptions("solo") { CacheDirectory = cache, MaxMessageBytes = 1 << 20 });
        var (channel, invoker) = GrpcChannels.Open(host.Address, token: null);
        using var _ = channel;
        var agent = new Proto.Agent.AgentClient(invoker);

        // Bytes that do not match the declared shape.
        var bad = new Proto.ExecuteRequest { RequestId = "r", Version = 1, Hop = 0, ReplyTo = "127.0.0.1:1" };
        bad.Tensors.Add(new Proto.Tensor { Name = "x", ElementType = 1, Shape = { 1, 4 }, Data = ByteString.CopyFrom(new byte[7]) });
        var malformed = await Assert.ThrowsAsync<RpcException>(async () => await agent.ExecuteAsync(bad));
        Assert.Equal(StatusCode.InvalidArgument, malformed.StatusCode);
        Assert.Contains("needs 16 bytes, got 7", malformed.Status.Detail);

        // A hop nobody deployed.
        var unknown = new Proto.ExecuteRequest { RequestId = "r", Version = 9, Hop = 0, ReplyTo = "127.0.0.1:1" };
        var notDeployed = await Assert.ThrowsAsync<RpcException>(async () => await agent.ExecuteAsync(unknown));
        Assert.Equal(StatusCode.FailedPrecondition, notDeployed.StatusCode);

        // Larger than the agent's message limit.
        var big = new Proto.ExecuteRequest { RequestId = "r", Version = 1, Hop = 0, ReplyTo = "127.0.0.1:1" };
        big.Tensors.Add(new Proto.Tensor { Name = "x", ElementType = 1, Shape = { 1 << 19 }, Data = ByteString.CopyFrom(new byte[2 << 20]) });
        var oversized = await Assert.ThrowsAsync<RpcException>(async () => await agent.ExecuteAsync(big));
        Assert.Equal(StatusCode.ResourceExhausted, oversized.StatusCode);

        // A partition whose bytes do not hash to what was announced is not cached.
        var bytes = SmallModels.Residual();
        var claimed = Convert.ToHexStringLower(SHA256.HashData(bytes));
        using (var upload = agent.LoadPartition())
        {
            await upload.RequestStream.WriteAsync(new Proto.PartitionChunk { Sha256 = claimed, TotalBytes = bytes.Length, Data = ByteString.CopyFrom(bytes.Reverse().ToArray()) });
            await upload.RequestStream.CompleteAsync();
            var corrupt = await Assert.ThrowsAsync<RpcException>(async () => await upload);
            Assert.Equal(StatusCode.DataLoss, corrupt.StatusCode);
        }
        Assert.False((await agent.HasPartitionAsync(new Proto.PartitionRef { Sha256 = claimed })).Cached);

        // Deploying bytes that are not ONNX.
        var junk = new byte[100];
        var junkHash = Convert.ToHexStringLower(SHA256.HashData(junk));
        using (var upload = agent.LoadPartition())
        {
            await upload.RequestStream.WriteAsync(new Proto.PartitionChunk { Sha256 = junkHash, TotalBytes = junk.Length, Data = ByteString.CopyFrom(junk) });
            await upload.RequestStream.CompleteAsync();
            await upload;
        }
        var deploy = new Proto.DeployRequest { Version = 1, Hops = { new Proto.HopConfig { Hop = 0, PartitionSha256 = junkHash } } };
        var notOnnx = await Assert.ThrowsAsync<RpcException>(async () => await agent.DeployAsync(deploy));
        Assert.Equal(StatusCode.InvalidArgument, notOnnx.StatusCode);

        var pong = await agent.PingAsync(new Proto.PingRequest());
        Assert.Equal("solo", pong.Name);
        Directory.Delete(cache, recursive: true);
    }

    [Fact]
    public async Task A_restarted_agent_keeps_its_partitions_and_needs_no_upload()
    {
        var cache = Directory.CreateTempSubdirectory("edgesplit-agent-").FullName;
        var bytes = SmallModels.Inception();
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        await using (var first = await AgentHost.StartAsync(new AgentOptions("a") { CacheDirectory = cache }))
        {
            var (channel, invoker) = GrpcChannels.Open(first.Address, null);
            using var _ = channel;
            var agent = new Proto.Agent.AgentClient(invoker);
            Assert.False((await agent.HasPartitionAsync(new Proto.PartitionRef { Sha256 = hash })).Cached);
            using var upload = agent.LoadPartition();
            // Several chunks, as a large partition would arrive.
            for (var offset = 0; offset < bytes.Length; offset += 300)
            {
                await upload.RequestStream.WriteAsync(new Proto.PartitionChunk
                {
                    Sha256 = offset == 0 ? hash : "",
                    TotalBytes = offset == 0 ? bytes.Length : 0,
                    Data = ByteString.CopyFrom(bytes, offset, Math.Min(300, bytes.Length - offset)),
                });
            }
            await upload.RequestStream.CompleteAsync();
            Assert.Equal(bytes.Length, (await upload).Bytes);
        }
        await using (var second = await AgentHost.StartAsync(new AgentOptions("a") { CacheDirectory = cache }))
        {
            var (channel, invoker) = GrpcChannels.Open(second.Address, null);
            using var _ = channel;
            Assert.True((await new Proto.Agent.AgentClient(invoker).HasPartitionAsync(new Proto.PartitionRef { Sha256 = hash })).Cached);
        }
        Directory.Delete(cache, recursive: true);
    }

    [Fact]
    public async Task Metrics_stream_reports_the_device_and_labels_model_power_estimated_when_no_sensor_exists()
    {
        // An empty sysfs root: no RAPL or hwmon sensor, so power must come from the model, labelled estimated.
        var noSensors = Directory.CreateTempSubdirectory("edgesplit-sys-").FullName;
        var model = new Cluster.Monitoring.PowerModel(IdlePowerW: 3, PeakPowerW: 7, EnergyPerByteNj: 0);
        await using var host = await AgentHost.StartAsync(new AgentOptions("m")
        {
            CacheDirectory = Directory.CreateTempSubdirectory().FullName,
            Monitoring = new Cluster.Monitoring.ResourceMonitorOptions { SysRoot = noSensors, PowerModel = model },
        });
        var (channel, invoker) = GrpcChannels.Open(host.Address, null);
        using var _ = channel;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var call = new Proto.Agent.AgentClient(invoker).Metrics(new Proto.MetricsRequest { IntervalMs = 100, Peers = { host.Address } }, cancellationToken: cts.Token);
        var samples = new List<Proto.DeviceMetrics>();
        while (samples.Count < 2 && await call.ResponseStream.MoveNext(cts.Token))
        {
            samples.Add(call.ResponseStream.Current);
        }
        var last = samples[^1];
        Assert.Equal("m", last.Name);
        Assert.True(last.MemoryAvailableBytes > 0);
        Assert.True(last.ProcessRssBytes > 0);
        Assert.Equal(Environment.ProcessorCount, last.CpuPerCore.Count);
        Assert.True(last.PowerEstimated);
        Assert.InRange(last.PowerW, 3, 7);
        Assert.True(last.Links.Single().RttMs > 0);
    }

    [Fact]
    public async Task An_emulated_device_reports_the_share_its_links_file_says_other_jobs_take_as_its_cpu_load()
    {
        var dir = Directory.CreateTempSubdirectory("edgesplit-emulated-").FullName;
        var links = Path.Combine(dir, "e.links.json");
        Cluster.Monitoring.EmulatedLinks.Write(links, new Cluster.Monitoring.EmulatedLinksFile("e", 2, []) { CpuLoad = 0.4 });
        await using var host = await AgentHost.StartAsync(new AgentOptions("e")
        {
            CacheDirectory = Path.Combine(dir, "cache"),
            Emulation = Cluster.Monitoring.EmulatedLinks.Open(links),
        });
        var (channel, invoker) = GrpcChannels.Open(host.Address, null);
        using var _ = channel;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var call = new Proto.Agent.AgentClient(invoker).Metrics(new Proto.MetricsRequest { IntervalMs = 100 }, cancellationToken: cts.Token);
        Assert.True(await call.ResponseStream.MoveNext(cts.Token));
        var sample = call.ResponseStream.Current;
        // The host's /proc/stat counts every emulated device and tenant: the device's own load is the file's.
        Assert.Equal(0.4, sample.CpuUtilisation, 6);
        Assert.All(sample.CpuPerCore, core => Assert.Equal(0.4, core, 6));
        Assert.Equal(0, sample.ProcessCpuUtilisation);
    }

    [Fact]
    public async Task Wrong_input_shape_is_refused_by_the_coordinator_with_invalid_argument()
    {
        await using var cluster = await TestCluster.StartAsync(SmallModels.Residual(), 1);
        using var client = new ClusterClient(cluster.Coordinator!.Address);
        var wrong = Runtime.Codec.WireTensor.FromFloats("x", [1, 4, 8, 7], new float[4 * 8 * 7]);
        var refused = await Assert.ThrowsAsync<RpcException>(() => client.InferAsync([wrong]));
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("the model wants", refused.Status.Detail);
    }
}
