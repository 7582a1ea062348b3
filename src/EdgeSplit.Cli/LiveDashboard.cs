using System.CommandLine;
using EdgeSplit.Cluster.Dashboard;
using EdgeSplit.Evaluation;
using EdgeSplit.Reports;

namespace EdgeSplit.Cli;

/// <summary>
/// The dashboard of <c>demo</c> and <c>bench</c>: one page for the whole run, showing each strategy's coordinator in
/// turn (they follow its <see cref="DashboardFeed"/>), labelled with the model and strategy running now.
/// </summary>
internal static class LiveDashboard
{
    public static Option<string> Option() => new("--dashboard")
    {
        Description = $"HOST:PORT of the live dashboard in the browser while the run lasts (port 0: a free one), or 'off'; with {TokenOptions.EnvironmentVariable} set, the page asks for it.",
        DefaultValueFactory = _ => "127.0.0.1:0",
    };

    /// <summary>Starts the dashboard and prints its address on stderr; null when <paramref name="listen"/> is 'off'.</summary>
    public static async Task<DashboardServer?> StartAsync(string listen, CancellationToken ct)
    {
        if (listen.Trim().Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var token = Environment.GetEnvironmentVariable(TokenOptions.EnvironmentVariable) is { Length: > 0 } set ? set.Trim() : null;
        var server = await DashboardServer.StartAsync(listen, token, new DashboardFeed(), ct: ct);
        await Console.Error.WriteLineAsync($"dashboard: {server.Url} (live while this runs{(token is null ? "" : $"; asks for {TokenOptions.EnvironmentVariable}")})");
        return server;
    }

    /// <summary>Progress that also tells the dashboard which model and strategy the coordinator it shows is running.</summary>
    public static IProgress<LiveFrame> Labelled(IProgress<LiveFrame> progress, DashboardServer? dashboard) =>
        dashboard is null ? progress : new Labeller(progress, dashboard.Feed);

    private sealed class Labeller(IProgress<LiveFrame> inner, DashboardFeed feed) : IProgress<LiveFrame>
    {
        public void Report(LiveFrame value)
        {
            feed.Label = $"{value.Strategy.Name()} ({value.RunIndex + 1} of {value.RunCount}), {value.Phase}";
            inner.Report(value);
        }
    }
}
