using System.Diagnostics;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Transport;
using EdgeSplit.Tests;
using Grpc.Core;

namespace EdgeSplit.Cluster.Tests;

/// <summary>
/// Mutual TLS on loopback, with certificates from the fleet CA script (deploy/tls/make-fleet-ca.sh, openssl):
/// the load and fault tests pass with it on, and clients without the right certificate, or without TLS, are refused.
/// </summary>
public sealed class TlsTests : IDisposable
{
    private const string Token = "fleet-secret";
    private readonly string _dir = Directory.CreateTempSubdirectory("edgesplit-tls-tests-").FullName;

    [SkippableFact]
    public async Task With_mutual_tls_two_hundred_requests_all_answer_their_own_input()
    {
        var certs = MakeFleet();
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [1, 3], token: Token, tls: certs.Device);
        var run = await LoadTests.RunLoadAsync(cluster, model, onCompleted: null);
        Assert.Empty(run.Failures);
        Assert.Equal(200, run.Results.Count);
        Assert.Equal(200, cluster.Coordinator!.Status().Completed);
    }

    [SkippableFact]
    public async Task With_mutual_tls_an_agent_killed_mid_load_loses_nothing_and_its_segment_moves()
    {
        var certs = MakeFleet();
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [1, 3], token: Token, tls: certs.Device);
        var run = await LoadTests.RunLoadKillingAsync(cluster, model, agent: 1, atCompletion: 50);
        Assert.Empty(run.Failures);
        Assert.Equal(200, run.Results.Count);
        Assert.DoesNotContain("dev1", cluster.Coordinator!.Status().Plan!.Stages.Select(s => s.Device));
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task With_tls_the_token_never_crosses_a_link_in_clear_text(bool tls)
    {
        // A wiretap in front of every agent sees what a packet capture of the coordinator's links would: the
        // deploys, the frames and the health probes of 20 requests. Without TLS it must see the token (so the
        // tap works); with TLS it must not.
        var certs = tls ? MakeFleet() : null;
        var model = SmallModels.Residual();
        await using var cluster = await TestCluster.StartAsync(model, 3, cuts: [1, 3], token: Token, proxied: true, tls: certs?.Device);
        var needle = System.Text.Encoding.ASCII.GetBytes(Token);
        cluster.Proxies.ForEach(p => p.Watch(needle));
        var run = await LoadTests.RunLoadAsync(cluster, model, onCompleted: null, requests: 20);
        Assert.Empty(run.Failures);
        Assert.Equal(!tls, cluster.Proxies.Any(p => p.Seen));
    }

    [SkippableFact]
    public async Task A_client_without_a_certificate_one_from_another_ca_and_a_plain_text_call_are_refused()
    {
        var certs = MakeFleet();
        await using var agent = await AgentHost.StartAsync(new AgentOptions("dev0") { CacheDirectory = Path.Combine(_dir, "cache"), Token = Token, Tls = certs.Device });
        // The right client first, so the refusals below are about the certificate, not the setup.
        Assert.True(await PingAsync(agent.Address, certs.Device));
        await AssertRefusedAsync(agent.Address, TlsSettings.Load(null, null, certs.CaPath));
        await AssertRefusedAsync(agent.Address, certs.Stranger);
        await AssertRefusedAsync(agent.Address, tls: null);
        // A server whose certificate is not from the fleet CA is refused by the client too.
        await using var impostor = await AgentHost.StartAsync(new AgentOptions("dev9") { CacheDirectory = Path.Combine(_dir, "cache9"), Token = Token, Tls = certs.StrangerServer });
        await AssertRefusedAsync(impostor.Address, certs.Device);
    }

    private static async Task<bool> PingAsync(string address, TlsSettings? tls)
    {
        var (channel, invoker) = GrpcChannels.Open(address, Token, tls: tls);
        using var _ = channel;
        var reply = await new Protos.Agent.AgentClient(invoker).PingAsync(new Protos.PingRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        return reply.Name.Length > 0;
    }

    private static async Task AssertRefusedAsync(string address, TlsSettings? tls)
    {
        var refused = await Assert.ThrowsAsync<RpcException>(() => PingAsync(address, tls));
        // The handshake fails (Unavailable, or Internal when this client rejects the server): no call gets through.
        Assert.True(refused.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{refused.StatusCode}: {refused.Status.Detail}");
        Assert.DoesNotContain("Unauthenticated", refused.Status.Detail);
    }

    /// <summary>A fleet CA with a device certificate for 127.0.0.1, and a stranger CA with its own, made by the project's script.</summary>
    private Fleet MakeFleet()
    {
        var script = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "deploy", "tls", "make-fleet-ca.sh"));
        Skip.If(!File.Exists("/usr/bin/openssl"), "openssl is not installed (the fleet CA script uses it)");
        var fleet = Path.Combine(_dir, "fleet");
        var other = Path.Combine(_dir, "other");
        Run(script, fleet, "ca");
        Run(script, fleet, "device", "dev", "127.0.0.1");
        Run(script, other, "ca");
        Run(script, other, "device", "dev", "127.0.0.1");
        return new Fleet(
            TlsSettings.Load(Path.Combine(fleet, "dev.crt"), Path.Combine(fleet, "dev.key"), Path.Combine(fleet, "ca.crt")),
            Path.Combine(fleet, "ca.crt"),
            TlsSettings.Load(Path.Combine(other, "dev.crt"), Path.Combine(other, "dev.key"), Path.Combine(fleet, "ca.crt")),
            TlsSettings.Load(Path.Combine(other, "dev.crt"), Path.Combine(other, "dev.key"), Path.Combine(other, "ca.crt")));
    }

    private static void Run(string script, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo("bash", [script, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{script} {string.Join(' ', args)}: {error}");
    }

    /// <summary><paramref name="Stranger"/>: another CA's certificate, trusting the fleet's CA; <paramref name="StrangerServer"/>: the same, trusting its own.</summary>
    private sealed record Fleet(TlsSettings Device, string CaPath, TlsSettings Stranger, TlsSettings StrangerServer);

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
