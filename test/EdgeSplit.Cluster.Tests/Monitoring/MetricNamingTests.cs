using System.Diagnostics;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Planning;
using EdgeSplit.Runtime.Codec;
using Prometheus;

namespace EdgeSplit.Cluster.Tests.Monitoring;

/// <summary>The agents' and the coordinator's Prometheus text follows the naming conventions, as promtool checks them.</summary>
public sealed class MetricNamingTests
{
    [SkippableFact]
    public async Task Agent_and_coordinator_metrics_pass_promtool()
    {
        var promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);
        Skip.If(promtool is null, "promtool is not installed (Debian package 'prometheus'); apt-get install prometheus to run this check");

        var agent = Metrics.NewCustomRegistry();
        var monitor = new ResourceMonitor(new ResourceMonitorOptions { PowerModel = new PowerModel(1, 2, 3) });
        var links = new LinkEstimators();
        links.For("peer").AddRtt(TimeSpan.FromMilliseconds(3));
        new MonitorMetrics("camera", agent).Follow(monitor, links);
        monitor.Sample();

        var coordinator = Metrics.NewCustomRegistry();
        var status = new CoordinatorStatus(new Plan(3, [new Stage("camera", 0, 9)]), FeatureMapCompression.None, [new AgentState("camera", "127.0.0.1:1", true)],
            10, 1, 2, 0, [new PlanSwitch(2, 3, TimeSpan.FromMilliseconds(40), "test", DateTimeOffset.UtcNow)], null, "m", [], ["y"])
        {
            Adaptation = new AdaptationStatus("optimal", "latency", true, new Dictionary<string, long> { ["Worthwhile"] = 1 }, 1, 1, [], 0.2, 0.2, 10),
            Devices = [new DeviceView("camera", true, DateTimeOffset.UtcNow, 0.5, 0.5, 1 << 30, 3, true, 0, 5, [new LinkView("jetson", 2, 1e6)])],
        };
        CoordinatorMetrics.Register(coordinator, () => status);

        foreach (var registry in new[] { agent, coordinator })
        {
            using var text = new MemoryStream();
            await registry.CollectAndExportAsTextAsync(text);
            var (code, output) = await RunAsync(promtool!, text.ToArray());
            Assert.True(code == 0 && output.Trim().Length == 0, $"promtool check metrics: exit {code}\n{output}");
        }
    }

    private static async Task<(int Code, string Output)> RunAsync(string promtool, byte[] input)
    {
        var start = new ProcessStartInfo(promtool) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("check");
        start.ArgumentList.Add("metrics");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.BaseStream.WriteAsync(input);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
