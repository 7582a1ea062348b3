using System.CommandLine;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Graph;
using EdgeSplit.Testbed;
using Microsoft.Extensions.Logging;

namespace EdgeSplit.Cli.Commands;

/// <summary><c>edgesplit agent</c>: the daemon every device runs.</summary>
internal static class AgentCommand
{
    public static Command Create()
    {
        var name = new Option<string>("--name") { Description = "Device name the coordinator and plans use.", Required = true };
        var listen = new Option<string>("--listen") { Description = "HOST:PORT to listen on (port 0 picks a free one).", DefaultValueFactory = _ => "127.0.0.1:5001" };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads per partition.", DefaultValueFactory = _ => 1 };
        var cache = new Option<string?>("--cache") { Description = "Directory caching partitions by SHA-256 (default: a folder under the temp dir)." };
        var token = new TokenOptions();
        var providers = new ProviderOptions();
        var listeners = new ListenerOptions();
        var metricsListen = new Option<string?>("--metrics-listen") { Description = "HOST:PORT of an extra HTTP/1 endpoint serving Prometheus text at /metrics." };
        var join = new Option<string?>("--join") { Description = "HOST:PORT of a coordinator to join on its own (it adds this device to its plans; heartbeats keep it there)." };
        var advertise = new Option<string?>("--advertise") { Description = "HOST:PORT the coordinator and other agents reach this agent at (default: the listen address)." };
        var command = new Command("agent", "Run a device agent: caches partitions, runs them warm, forwards results to the next device.")
        {
            name, listen, threads, cache, metricsListen, join, advertise,
        };
        token.AddTo(command);
        providers.AddTo(command);
        listeners.AddTo(command);
        CommandRunner.SetAction(command, async (parse, ct) =>
        {
            var threadCount = parse.GetValue(threads);
            if (threadCount < 1)
            {
                throw new BadInputException($"--threads must be at least 1, got {threadCount}");
            }
            var verbose = parse.GetValue(CommonOptions.Verbose);
            var options = new AgentOptions(parse.GetValue(name)!, parse.GetValue(listen)!)
            {
                Threads = threadCount,
                CacheDirectory = parse.GetValue(cache),
                Token = token.Resolve(parse),
                Provider = providers.Parse(parse),
                MetricsListen = parse.GetValue(metricsListen),
                HealthListen = listeners.ResolveHealthListen(parse),
                Tls = listeners.ResolveTls(parse, server: true),
                Join = CheckedAddress(parse.GetValue(join), "--join"),
                AdvertiseAddress = CheckedAddress(parse.GetValue(advertise), "--advertise"),
                ConfigureLogging = logging => StderrLogging.Configure(logging, verbose),
            };
            // On a dilated testbed (its emulation file says so) every duration the agent waits runs slower too.
            await using var host = await AgentHost.StartAsync(TimeDilation.ApplyFromEmulation(options), ct);
            if (ProviderOptions.FallbackWarning(host.Provider) is { } warning)
            {
                await Console.Error.WriteLineAsync(warning);
            }
            await Console.Error.WriteLineAsync($"agent {host.Name} listening on {host.Address} (cache {host.CacheDirectory}, partitions on {host.Provider.Used})" +
                (parse.GetValue(join) is { } coordinator ? $", joining {coordinator}" : "") +
                (host.HealthAddress is { } healthAt ? $"; grpc.health.v1 without token on {healthAt}" : ""));
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

    /// <summary>A HOST:PORT option checked where it is given (a bad one would only show as a join that never succeeds).</summary>
    private static string? CheckedAddress(string? address, string option)
    {
        if (address is not null && !EdgeSplit.Cluster.Transport.Endpoints.IsPeer(address))
        {
            throw new BadInputException($"{option} '{address}' is not HOST:PORT");
        }
        return address;
    }
}

/// <summary>Service logs go to stderr so stdout stays for results and JSON.</summary>
internal static class StderrLogging
{
    public static void Configure(ILoggingBuilder logging, bool verbose)
    {
        logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
        logging.AddFilter("Microsoft", verbose ? LogLevel.Information : LogLevel.Warning);
        logging.AddFilter("Grpc", verbose ? LogLevel.Information : LogLevel.Warning);
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        Microsoft.Extensions.DependencyInjection.OptionsServiceCollectionExtensions.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(logging.Services, o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    }
}
