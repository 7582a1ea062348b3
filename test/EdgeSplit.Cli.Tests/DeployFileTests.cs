using System.Net;
using System.Net.Sockets;

namespace EdgeSplit.Cli.Tests;

/// <summary>
/// The deployment files (deploy/): the Kubernetes manifests validate against the API's schemas, the
/// fleet CA's certificates verify and complete a mutual-TLS handshake, the systemd unit passes
/// systemd's own check, the publish script refuses bad arguments. Each skips, saying why, where
/// its tool is missing.
/// </summary>
public sealed class DeployFileTests : IDisposable
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private static readonly string Deploy = Path.Combine(ToolProcess.RepositoryRoot, "deploy");
    private readonly string _dir = Directory.CreateTempSubdirectory("edgesplit-deploy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SkippableFact]
    public void The_kubernetes_manifests_validate_against_the_api_schemas_and_a_misspelt_field_does_not()
    {
        var kubectl = ToolProcess.Find("kubectl");
        var node = ToolProcess.Find("node");
        var npm = ToolProcess.Find("npm");
        Skip.If(kubectl is null, "kubectl is not installed (it renders deploy/k8s with its built-in kustomize)");
        Skip.If(node is null || npm is null, "node and npm are not installed (the validator is deploy/k8s/validate, on Node)");
        var validator = Path.Combine(Deploy, "k8s", "validate");
        if (!Directory.Exists(Path.Combine(validator, "node_modules", "kubernetes-models")))
        {
            var install = ToolProcess.Run(npm, ["ci", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(3), validator);
            Skip.If(install.ExitCode != 0, $"npm ci could not install the validator's packages: {install.StdErr.Trim().Split('\n').LastOrDefault()}");
        }

        var rendered = ToolProcess.Run(kubectl, ["kustomize", Path.Combine(Deploy, "k8s")], Minute);
        Assert.True(rendered.ExitCode == 0, rendered.ToString());
        var valid = ToolProcess.Run(node, [Path.Combine(validator, "validate.mjs")], Minute, standardInput: rendered.StdOut);
        var secrets = ToolProcess.Run(node, [Path.Combine(validator, "validate.mjs"), Path.Combine(Deploy, "k8s", "secrets.example.yaml")], Minute);
        var misspelt = ToolProcess.Run(node, [Path.Combine(validator, "validate.mjs")], Minute,
            standardInput: rendered.StdOut.Replace("livenessProbe:", "livenesProbe:", StringComparison.Ordinal));

        Assert.True(valid.ExitCode == 0, valid.ToString());
        Assert.Contains("5 objects checked", valid.StdOut);
        foreach (var kind in new[] { "Namespace edgesplit", "Service edgesplit/edgesplit-coordinator", "Deployment edgesplit/edgesplit-coordinator",
            "DaemonSet edgesplit/edgesplit-agent-rpi4", "DaemonSet edgesplit/edgesplit-agent-jetson-nano" })
        {
            Assert.Contains($"ok      {kind}", valid.StdOut);
        }
        Assert.True(secrets.ExitCode == 0, secrets.ToString());
        Assert.Equal(1, misspelt.ExitCode);
        Assert.Contains("unknown field livenesProbe in Container", misspelt.StdOut);
    }

    [SkippableFact]
    public void Agents_run_only_on_nodes_of_their_profile_with_grpc_probes_and_prometheus_annotations()
    {
        var kubectl = ToolProcess.Find("kubectl");
        Skip.If(kubectl is null, "kubectl is not installed (it renders deploy/k8s with its built-in kustomize)");

        var rendered = ToolProcess.Run(kubectl, ["kustomize", Path.Combine(Deploy, "k8s")], Minute).StdOut;
        var daemonSets = rendered.Split("\n---\n").Where(d => d.Contains("kind: DaemonSet", StringComparison.Ordinal)).ToList();

        Assert.Equal(2, daemonSets.Count);
        foreach (var (profile, set) in new[] { "jetson-nano", "rpi4" }.Zip(daemonSets))
        {
            Assert.Contains($"edgesplit.io/profile: {profile}", set);
            Assert.Contains("grpc:", set);
            Assert.Contains("prometheus.io/scrape: \"true\"", set);
            Assert.Contains("secretName: edgesplit-token", set);
            Assert.DoesNotContain("--token=", set);
            // Agents join on their own, at the node's address, and the kubelet probes the token-free health port.
            Assert.Contains("--join=edgesplit-coordinator.edgesplit.svc.cluster.local:5000", set);
            Assert.Contains("--advertise=$(NODE_IP):50051", set);
            Assert.Contains("--health-listen=0.0.0.0:50052", set);
            Assert.Equal(3, System.Text.RegularExpressions.Regex.Matches(set, @"grpc:\s+port: 50052").Count);
        }
        Assert.Contains("value: cuda", daemonSets[0]);
        Assert.Contains("EDGESPLIT_ORT_LIBRARY", daemonSets[0]);
    }

    [SkippableFact]
    public void The_fleet_ca_issues_certificates_that_verify_and_complete_a_mutual_tls_handshake()
    {
        var openssl = ToolProcess.Find("openssl");
        Skip.If(openssl is null, "openssl is not installed");
        var script = Path.Combine(Deploy, "tls", "make-fleet-ca.sh");
        var certs = Path.Combine(_dir, "certs");

        Assert.Equal(0, ToolProcess.Run(script, [certs, "ca"], Minute).ExitCode);
        var device = ToolProcess.Run(script, [certs, "device", "pi-1", "127.0.0.1", "pi-1.local"], Minute);
        Assert.True(device.ExitCode == 0, device.ToString());
        Assert.Equal(0, ToolProcess.Run(script, [certs, "client", "operator"], Minute).ExitCode);
        Assert.Equal(2, ToolProcess.Run(script, [certs, "ca"], Minute).ExitCode);
        Assert.Equal(2, ToolProcess.Run(script, [certs, "device", "not a name"], Minute).ExitCode);

        var verify = ToolProcess.Run(openssl, ["verify", "-CAfile", Path.Combine(certs, "ca.crt"), Path.Combine(certs, "pi-1.crt"), Path.Combine(certs, "operator.crt")], Minute);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        var names = ToolProcess.Run(openssl, ["x509", "-in", Path.Combine(certs, "pi-1.crt"), "-noout", "-ext", "subjectAltName,extendedKeyUsage"], Minute).StdOut;
        Assert.Contains("DNS:pi-1", names);
        Assert.Contains("IP Address:127.0.0.1", names);
        Assert.Contains("TLS Web Server Authentication", names);
        Assert.Contains("TLS Web Client Authentication", names);

        // Loopback only: openssl's server (pi-1's certificate) demands a client certificate from the fleet CA.
        var stranger = Path.Combine(_dir, "other-fleet");
        ToolProcess.Run(script, [stranger, "ca"], Minute);
        ToolProcess.Run(script, [stranger, "client", "operator"], Minute);
        Assert.Contains("HTTP/1.0 200 ok", Handshake(openssl, certs, Path.Combine(certs, "operator")));
        Assert.Contains("HTTP/1.0 200 ok", Handshake(openssl, certs, Path.Combine(certs, "pi-1")));
        Assert.Contains("certificate required", Handshake(openssl, certs, client: null));
        Assert.DoesNotContain("HTTP/1.0 200 ok", Handshake(openssl, certs, Path.Combine(stranger, "operator")));
    }

    [SkippableFact]
    public void The_systemd_unit_passes_systemds_own_check()
    {
        var analyze = ToolProcess.Find("systemd-analyze");
        Skip.If(analyze is null, "systemd-analyze is not installed");
        // The unit names the installed binary; here the built one stands in for it.
        var unit = Path.Combine(_dir, "edgesplit-agent.service");
        File.WriteAllText(unit, File.ReadAllText(Path.Combine(Deploy, "systemd", "edgesplit-agent.service"))
            .Replace("/opt/edgesplit/edgesplit", Path.Combine(AppContext.BaseDirectory, "edgesplit"), StringComparison.Ordinal));

        var result = ToolProcess.Run(analyze, ["verify", unit], Minute);

        Assert.True(result.ExitCode == 0 && result.StdErr.Length == 0, result.ToString());
        Assert.Contains("LoadCredential=token:", File.ReadAllText(unit));
        Assert.DoesNotContain("--token ", File.ReadAllText(unit));
    }

    [Theory]
    [InlineData("--bogus", "unknown argument")]
    [InlineData("linux-riscv64", "unknown argument")]
    [InlineData("--gpu linux-arm64", "--gpu is for linux-x64")]
    public void The_publish_script_refuses_bad_arguments_before_building(string args, string expected)
    {
        var result = ToolProcess.Run(Path.Combine(Deploy, "publish.sh"), args.Split(' '), Minute);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.StdErr);
    }

    /// <summary>
    /// One HTTPS request on a loopback port from openssl's client (with <paramref name="client"/>'s
    /// certificate, or none) to openssl's server (pi-1's certificate, client certificates required).
    /// </summary>
    private static string Handshake(string openssl, string certs, string? client)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var server = new System.Diagnostics.ProcessStartInfo(openssl)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "s_server", "-accept", $"127.0.0.1:{port}", "-naccept", "1", "-www", "-cert", Path.Combine(certs, "pi-1.crt"),
            "-key", Path.Combine(certs, "pi-1.key"), "-CAfile", Path.Combine(certs, "ca.crt"), "-Verify", "1", "-verify_return_error" })
        {
            server.ArgumentList.Add(arg);
        }
        using var process = System.Diagnostics.Process.Start(server)!;
        try
        {
            process.StandardInput.Close();
            // s_server prints ACCEPT once it listens.
            while (process.StandardOutput.ReadLine() is { } line && line != "ACCEPT")
            {
            }
            string[] args = ["s_client", "-quiet", "-connect", $"127.0.0.1:{port}", "-CAfile", Path.Combine(certs, "ca.crt"), "-verify_return_error", "-servername", "pi-1"];
            if (client is not null)
            {
                args = [.. args, "-cert", client + ".crt", "-key", client + ".key"];
            }
            var result = ToolProcess.Run(openssl, args, Minute, standardInput: "GET / HTTP/1.0\r\n\r\n");
            return result.StdOut + result.StdErr;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            process.WaitForExit();
        }
    }
}
