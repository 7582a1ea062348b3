using System.CommandLine;
using System.Globalization;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Graph;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace EdgeSplit.Cli.Commands;

/// <summary><c>edgesplit top</c>: a live table of every device, link, the current plan and recent adaptation decisions.</summary>
internal static class TopCommand
{
    public static Command Create()
    {
        var server = new Option<string>("--server") { Description = "Coordinator HOST:PORT.", DefaultValueFactory = _ => "127.0.0.1:5000" };
        var token = new TokenOptions();
        var tls = new ListenerOptions();
        var interval = new Option<double>("--interval") { Description = "Seconds between refreshes.", DefaultValueFactory = _ => 1 };
        var once = new Option<bool>("--once") { Description = "Print one table and exit." };
        var command = new Command("top", "Watch a running coordinator: devices (CPU, memory, power), links (bandwidth, RTT), plan and adaptation decisions.")
        {
            server, interval, once,
        };
        token.AddTo(command);
        tls.AddTlsTo(command);
        CommandRunner.SetAction(command, async (parse, ct) =>
        {
            var seconds = parse.GetValue(interval);
            if (!(seconds >= 0.1 && seconds <= 3600))
            {
                throw new BadInputException($"--interval must be between 0.1 and 3600 seconds, got {seconds}");
            }
            using var client = new ClusterClient(parse.GetValue(server)!, token.Resolve(parse), tls: tls.ResolveTls(parse, server: false));
            if (parse.GetValue(once))
            {
                Terminal.Out.Write(Render(await StatusAsync(client, parse.GetValue(server)!, ct)));
                return ExitCodes.Ok;
            }
            try
            {
                await Terminal.Out.Live(new Text("connecting...")).StartAsync(async live =>
                {
                    // Bounded: a day of refreshes at most, then the view stops by itself.
                    for (var refresh = 0; refresh < 86_400 / seconds && !ct.IsCancellationRequested; refresh++)
                    {
                        live.UpdateTarget(Render(await StatusAsync(client, parse.GetValue(server)!, ct)));
                        await Task.Delay(TimeSpan.FromSeconds(seconds), ct);
                    }
                });
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl-C is how a user leaves top: not an error.
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<CoordinatorStatus> StatusAsync(ClusterClient client, string server, CancellationToken ct)
    {
        try
        {
            return await client.StatusAsync(ct);
        }
        catch (Grpc.Core.RpcException ex) when (!ct.IsCancellationRequested)
        {
            throw new BadInputException($"cannot reach the coordinator at {server}: {ex.Status.StatusCode} {ex.Status.Detail}; start 'edgesplit serve' or check --server");
        }
    }

    internal static IRenderable Render(CoordinatorStatus status)
    {
        var inv = CultureInfo.InvariantCulture;
        var devices = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(status.Model)}[/] plan {Markup.Escape(status.Plan?.ToString() ?? "none: " + status.Unavailable)}")
            .AddColumns("device", "state", "provider", "CPU busy", "CPU free", "memory free", "power", "queued", "executed", "links (bandwidth, RTT)");
        var byName = status.Devices.ToDictionary(d => d.Name, StringComparer.Ordinal);
        foreach (var agent in status.Agents)
        {
            byName.TryGetValue(agent.Name, out var d);
            var links = d is null || d.Links.Count == 0 ? "-" : string.Join("\n", d.Links.Select(l =>
                $"-> {l.Peer}: {(l.BytesPerSecond > 0 ? (l.BytesPerSecond * 8 / 1e6).ToString("F1", inv) + " Mbit/s" : "not measured")}, {(double.IsFinite(l.RttMs) ? l.RttMs.ToString("F2", inv) + " ms" : "-")}"));
            devices.AddRow(
                Markup.Escape(agent.Name),
                agent.Alive ? "[green]up[/]" : "[red]down[/]",
                Markup.Escape(d?.Provider ?? "-"),
                d is null || double.IsNaN(d.CpuUtilisation) ? "-" : d.CpuUtilisation.ToString("P0", inv),
                d is null || double.IsNaN(d.CpuAvailability) ? "-" : d.CpuAvailability.ToString("P0", inv),
                d is null ? "-" : Terminal.Bytes(d.MemoryAvailableBytes),
                d is null || double.IsNaN(d.PowerW) ? "-" : $"{d.PowerW.ToString("F2", inv)} W{(d.PowerEstimated ? " (estimated)" : "")}",
                d?.Queued.ToString(inv) ?? "-",
                d?.Executed.ToString(inv) ?? "-",
                Markup.Escape(links));
        }
        var rows = new List<IRenderable>
        {
            devices,
            new Markup($"requests: {status.Completed} done, {status.Failed} failed, {status.Retried} retried, {status.InFlight} in flight; {status.Switches.Count} plan switches" +
                (status.Switches.Count > 0 ? $", last {status.Switches[^1].Duration.TotalMilliseconds.ToString("F0", inv)} ms ({Markup.Escape(status.Switches[^1].Reason)})" : "")),
        };
        if (status.Adaptation is { } a)
        {
            rows.Add(new Markup($"planner [bold]{Markup.Escape(a.Planner)}[/] / {Markup.Escape(a.Objective)}, correction {(a.CostCorrection ? "on" : "off")}: {a.Decisions} decisions, {a.Switches} switches, " +
                $"decision {a.LastDecisionMs.ToString("F2", inv)} ms (mean {a.MeanDecisionMs.ToString("F2", inv)}); " +
                Markup.Escape(string.Join(", ", a.Counts.Where(c => c.Value > 0).Select(c => $"{c.Key} {c.Value}")))));
            var decisions = new Table().Border(TableBorder.Simple).AddColumns("time", "reason", "switch", "plan", "predicted gain", "detail");
            foreach (var r in a.Recent.Where(r => r.Reason is not "ConditionsUnchanged").TakeLast(8))
            {
                decisions.AddRow(r.Time.ToLocalTime().ToString("HH:mm:ss", inv), Markup.Escape(r.Reason), r.Switched ? "[yellow]yes[/]" : "no", Markup.Escape(r.Plan),
                    double.IsFinite(r.PredictedGain) ? r.PredictedGain.ToString("G4", inv) : "-", Markup.Escape(r.Detail));
            }
            rows.Add(decisions);
        }
        return new Rows(rows);
    }
}
