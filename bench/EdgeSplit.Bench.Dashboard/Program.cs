using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Runtime.Codec;
using EdgeSplit.Tests;
using PuppeteerSharp;

// Measures the dashboard the way a user meets it: real `edgesplit agent` processes and a real `edgesplit serve
// --dashboard` process on loopback, with a token; Debian's headless Chromium loads the page. Prints the time to a
// drawn page (cold with the login redirect, then warm loads), the serve process's CPU from /proc/PID/stat with the
// page closed, open, and closed again, and optionally takes a screenshot while requests flow. Bounded in time.
//   --edgesplit PATH --model FILE [--testbed FILE] [--planner optimal] [--objective latency] [--seconds 60] [--loads 5]
//   [--rate 0] [--settle 20] [--screenshot docs/dashboard.png] [--shot-after 25]
// Or, against a dashboard already up (e.g. the one `edgesplit demo` prints), only the screenshot:
//   --url http://127.0.0.1:PORT/ --screenshot docs/dashboard.png [--when 'rl (3 of 4)'] [--shot-after 25]
// (--when: wait, with the page open, until its header names that run, then --shot-after seconds more)
string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
double Num(string name, double fallback) => Arg(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
if (Arg("--url") is { } running)
{
    if (!SystemChromium.Installed)
    {
        Console.Error.WriteLine(SystemChromium.InstallHint);
        return 2;
    }
    var target = Arg("--screenshot") ?? throw new ArgumentException("--url needs --screenshot FILE");
    await using var viewer = await SystemChromium.LaunchAsync();
    var shotPage = await viewer.NewPageAsync();
    await shotPage.SetViewportAsync(new ViewPortOptions { Width = 1400, Height = 900 });
    await shotPage.GoToAsync(running);
    await shotPage.WaitForFunctionAsync("() => window.edgesplit && edgesplit.state.frames > 0", new WaitForFunctionOptions { Timeout = 60_000 });
    if (Arg("--when") is { } when)
    {
        await shotPage.WaitForFunctionAsync("t => document.querySelector('header').innerText.includes(t)", new WaitForFunctionOptions { Timeout = 600_000, PollingInterval = 200 }, when);
    }
    await Task.Delay(TimeSpan.FromSeconds(Num("--shot-after", 25)));
    await shotPage.ScreenshotAsync(target, new ScreenshotOptions { FullPage = true });
    Console.WriteLine($"screenshot {target} of {running} after {Num("--shot-after", 25):F0} s");
    return 0;
}
var edgesplit = Arg("--edgesplit") ?? throw new ArgumentException("--edgesplit PATH (the built CLI)");
var model = Arg("--model") ?? throw new ArgumentException("--model FILE");
var testbed = Arg("--testbed");
var seconds = Num("--seconds", 60);
var loads = (int)Num("--loads", 5);
var rate = Num("--rate", 0);
if (!SystemChromium.Installed)
{
    Console.Error.WriteLine(SystemChromium.InstallHint);
    return 2;
}

var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
var children = new List<Process>();
try
{
    string[] names = testbed is null ? ["dev0", "dev1", "dev2"] : ["camera", "jetson", "laptop"];
    var agents = new List<string>();
    foreach (var name in names)
    {
        var (agent, line) = await StartAsync(["agent", "--name", name, "--listen", "127.0.0.1:0"], "listening on ");
        children.Add(agent);
        agents.Add($"{name}={line.Split("listening on ")[1].Split(' ')[0].TrimEnd(',')}");
    }
    string[] serveArgs = ["serve", "--model", model, "--agents", string.Join(',', agents), "--listen", $"127.0.0.1:{FreePort()}", "--dashboard", "127.0.0.1:0",
        "--planner", Arg("--planner") ?? "optimal", "--objective", Arg("--objective") ?? "latency", .. testbed is null ? Array.Empty<string>() : ["--testbed", testbed]];
    var (serve, dashboardLine) = await StartAsync(serveArgs, "dashboard: ");
    children.Add(serve);
    var url = dashboardLine.Split("dashboard: ")[1].Split(' ')[0];
    var server = serveArgs[Array.IndexOf(serveArgs, "--listen") + 1];
    Console.WriteLine($"serve pid {serve.Id}: {string.Join(' ', serveArgs)}; dashboard {url}; {Environment.ProcessorCount} cores, load average {LoadAverage()}");

    await using var browser = await SystemChromium.LaunchAsync();
    using var load = new RequestLoad(server, token);

    // Time to a drawn page: navigation until the first frame from the stream has filled the devices table.
    var drawn = $"() => window.edgesplit && edgesplit.state.frames > 0 && document.querySelectorAll('#devices tbody tr').length === {names.Length}";
    async Task<(double DrawnMs, double LoadEventMs)> OpenAsync(IPage page, string address)
    {
        var watch = Stopwatch.StartNew();
        await page.GoToAsync(address);
        await page.WaitForFunctionAsync(drawn, new WaitForFunctionOptions { Timeout = 30_000, PollingInterval = 5 });
        var loaded = await page.EvaluateExpressionAsync<double>("performance.getEntriesByType('navigation')[0].loadEventEnd");
        if (Environment.GetEnvironmentVariable("DASH_TIMING") == "1")
        {
            Console.WriteLine(await page.EvaluateExpressionAsync<string>("JSON.stringify(performance.getEntries().map(e => [e.name.split('/').pop(), Math.round(e.startTime), Math.round(e.responseStart || 0), Math.round(e.responseEnd || e.duration)]))"));
        }
        return (watch.Elapsed.TotalMilliseconds, loaded);
    }
    var first = await browser.NewPageAsync();
    var cold = await OpenAsync(first, $"{url}?token={token}");
    await first.CloseAsync();
    Console.WriteLine($"page load, cold (login redirect, then page, uPlot, first frame): drawn in {cold.DrawnMs:F0} ms, load event at {cold.LoadEventMs:F0} ms");
    var warm = new List<(double DrawnMs, double LoadEventMs)>();
    for (var i = 0; i < loads; i++)
    {
        var page = await browser.NewPageAsync();
        warm.Add(await OpenAsync(page, url));
        await page.CloseAsync();
    }
    var drawnMs = warm.Select(w => w.DrawnMs).Order().ToList();
    Console.WriteLine($"page load, {loads} more loads: drawn in median {drawnMs[drawnMs.Count / 2]:F0} ms, max {drawnMs[^1]:F0} ms; load event median {warm.Select(w => w.LoadEventMs).Order().ElementAt(warm.Count / 2):F0} ms");

    // CPU of the serve process: page closed, one page open (streaming), closed again; the same request load throughout.
    // First the process settles: start-up, the first plan, the JIT of the page loads above are not the dashboard's steady cost.
    load.Start(rate);
    await Task.Delay(TimeSpan.FromSeconds(Num("--settle", 20)));
    var closed1 = await CpuAsync(serve.Id, seconds);
    Console.WriteLine($"serve CPU, page closed, {seconds:F0} s{(rate > 0 ? $" at {rate} req/s" : ", no requests")}: {closed1}");
    var open = await browser.NewPageAsync();
    await OpenAsync(open, url);
    var opened = await CpuAsync(serve.Id, seconds);
    var frames = await open.EvaluateExpressionAsync<int>("edgesplit.state.frames");
    Console.WriteLine($"serve CPU, one page open, {seconds:F0} s: {opened} ({frames} frames drawn by the page)");
    await open.CloseAsync();
    var closed2 = await CpuAsync(serve.Id, seconds);
    Console.WriteLine($"serve CPU, page closed again, {seconds:F0} s: {closed2}; load average now {LoadAverage()}");
    await load.StopAsync();
    Console.WriteLine($"requests during the CPU phases: {load.Completed} answered, {load.Failed} failed");

    if (Arg("--screenshot") is { } shot)
    {
        var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1400, Height = 900 });
        load.Start(rate > 0 ? rate : 20);
        await OpenAsync(page, url);
        await Task.Delay(TimeSpan.FromSeconds(Num("--shot-after", 25)));
        await page.ScreenshotAsync(shot, new ScreenshotOptions { FullPage = true });
        await load.StopAsync();
        Console.WriteLine($"screenshot {shot} after {Num("--shot-after", 25):F0} s of requests at {(rate > 0 ? rate : 20)}/s ({load.Completed} answered, {load.Failed} failed in all)");
    }
    return 0;
}
finally
{
    foreach (var child in children.AsEnumerable().Reverse())
    {
        if (!child.HasExited)
        {
            child.Kill();
            await child.WaitForExitAsync();
        }
        child.Dispose();
    }
}

// Starts `edgesplit ARGS` with the token in its environment and waits for the stderr line that says it is up.
async Task<(Process Process, string Line)> StartAsync(string[] arguments, string readyMarker)
{
    var info = new ProcessStartInfo(edgesplit) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
    arguments.ToList().ForEach(info.ArgumentList.Add);
    info.Environment["EDGESPLIT_TOKEN"] = token;
    var process = Process.Start(info)!;
    var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
    process.ErrorDataReceived += (_, e) =>
    {
        if (e.Data?.Contains(readyMarker, StringComparison.Ordinal) == true)
        {
            ready.TrySetResult(e.Data);
        }
    };
    process.OutputDataReceived += (_, _) => { };
    process.BeginErrorReadLine();
    process.BeginOutputReadLine();
    var line = await ready.Task.WaitAsync(TimeSpan.FromMinutes(3));
    return (process, line);
}

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}

static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

// utime + stime of PID over `seconds`, from /proc/PID/stat (clock ticks of 1/100 s), as a share of one core.
static async Task<string> CpuAsync(int pid, double seconds)
{
    static long Ticks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }
    var before = Ticks(pid);
    var watch = Stopwatch.StartNew();
    await Task.Delay(TimeSpan.FromSeconds(seconds));
    var ticks = Ticks(pid) - before;
    var elapsed = watch.Elapsed.TotalSeconds;
    return $"{ticks} ticks in {elapsed:F1} s = {ticks / 100.0 / elapsed * 100:F2} % of one core";
}

/// <summary>A bounded open-loop request load at a fixed rate (seeded random inputs), to keep the charts moving.</summary>
internal sealed class RequestLoad(string server, string token) : IDisposable
{
    private readonly ClusterClient _client = new(server, token);
    private CancellationTokenSource? _stop;
    private Task? _loop;
    private long _completed, _failed;

    public long Completed => Interlocked.Read(ref _completed);

    public long Failed => Interlocked.Read(ref _failed);

    public void Start(double perSecond)
    {
        if (perSecond <= 0)
        {
            return;
        }
        _stop = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        var ct = _stop.Token;
        _loop = Task.Run(async () =>
        {
            var status = await _client.StatusAsync(ct);
            var input = status.Inputs[0];
            long[] shape = [.. input.Shape!.Select(d => d ?? 1)];
            var random = new Random(1);
            var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1 / perSecond));
            var inFlight = new List<Task>();
            while (await timer.WaitForNextTickAsync(ct).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result, TaskScheduler.Default))
            {
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = (float)random.NextDouble();
                }
                var tensor = WireTensor.FromFloats(input.Name, shape, [.. values]);
                inFlight.RemoveAll(t => t.IsCompleted);
                if (inFlight.Count < 8)
                {
                    inFlight.Add(SendAsync(tensor));
                }
            }
            await Task.WhenAll(inFlight);
        });
    }

    private async Task SendAsync(WireTensor tensor)
    {
        try
        {
            await _client.InferAsync([tensor], TimeSpan.FromSeconds(10));
            Interlocked.Increment(ref _completed);
        }
        catch (Exception ex) when (ex is Grpc.Core.RpcException or EdgeSplit.Cluster.Contracts.ClusterException or OperationCanceledException)
        {
            Interlocked.Increment(ref _failed);
        }
    }

    public async Task StopAsync()
    {
        if (_stop is null || _loop is null)
        {
            return;
        }
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        _stop = null;
    }

    public void Dispose() => _client.Dispose();
}
