using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using EdgeSplit.Zoo;

namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>
/// The proposal's pathway 2 beside EdgeSplit: a zoo model in torchvision with the zoo's weights, run on
/// one device (<see cref="RunSingleAsync"/>) or split over <c>torch.distributed.rpc</c> workers, one per
/// device (<see cref="RunRpcAsync"/>), every process started through the <see cref="PyTorchLauncher"/>.
/// </summary>
public sealed class PyTorchRuntime(PyTorchEnvironment environment, PyTorchLauncher? launcher = null)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly PyTorchLauncher _launcher = launcher ?? PyTorchLaunchers.Local;

    public PyTorchEnvironment Environment => environment;

    /// <summary>
    /// The model file the Python side reads: <paramref name="modelOrZooName"/> itself when it is a file,
    /// else the zoo model of that name written into <paramref name="directory"/>.
    /// </summary>
    public static string ModelFile(string modelOrZooName, string directory) =>
        File.Exists(modelOrZooName)
            ? Path.GetFullPath(modelOrZooName)
            : ModelZoo.Write(modelOrZooName, Path.Combine(directory, modelOrZooName + ".onnx")).Path;

    /// <summary>Every EdgeSplit cut of a zoo model file and its torchvision module boundary, if any.</summary>
    public async Task<PyTorchCutMap> MapCutsAsync(string modelPath, CancellationToken cancellation)
    {
        var stdout = await RunToEndAsync("cuts", "local", ["cuts", "--onnx", Path.GetFullPath(modelPath)], TimeSpan.FromMinutes(5), cancellation);
        return Parse<PyTorchCutMap>(stdout, "cuts");
    }

    /// <summary>The single-device baseline: the whole model in one process, timed frame by frame.</summary>
    public async Task<PyTorchSingleResult> RunSingleAsync(PyTorchSingleOptions options, CancellationToken cancellation)
    {
        List<string> arguments =
        [
            "single", "--onnx", Path.GetFullPath(options.ModelPath), "--threads", Text(options.Threads),
            "--count", Text(options.Frames), "--warmup", Text(options.Warmup), "--seed", Text(options.Seed),
            "--outputs", Text(options.OutputsKept),
        ];
        if (options.FramesFile is { } frames)
        {
            arguments.AddRange(["--frames", Path.GetFullPath(frames)]);
        }
        if (options.DumpCuts.Count > 0)
        {
            arguments.AddRange(["--dump-cuts", string.Join(',', options.DumpCuts), "--dump-dir", Path.GetFullPath(options.DumpDirectory ?? ".")]);
        }
        var stdout = await RunToEndAsync("baseline", options.Device, arguments, options.Timeout, cancellation);
        return Parse<PyTorchSingleResult>(stdout, "single");
    }

    /// <summary>
    /// Starts one worker per stage, then the driver, which deploys the stages, feeds the frames and prints
    /// the result; the workers end when the driver shuts RPC down. Any process that fails ends the run
    /// (every process is killed by its id) with its error.
    /// </summary>
    public async Task<PyTorchRpcResult> RunRpcAsync(PyTorchRpcOptions options, CancellationToken cancellation)
    {
        if (options.Workers.Count != options.Cuts.Count + 1)
        {
            throw new ArgumentException($"{options.Cuts.Count} cut(s) make {options.Cuts.Count + 1} stages, one per worker, but {options.Workers.Count} worker(s) were placed", nameof(options));
        }
        var port = options.RendezvousPort > 0 ? options.RendezvousPort : FreeLoopbackPort();
        var worldSize = options.Workers.Count + 1;
        var timeoutSeconds = Text(options.Timeout.TotalSeconds);
        List<string> rendezvous = ["--master-addr", options.RendezvousAddress, "--master-port", Text(port), "--rpc-timeout", timeoutSeconds];
        var processes = new List<PyTorchProcess>();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(options.Timeout);
        try
        {
            for (var rank = 1; rank < worldSize; rank++)
            {
                var placement = options.Workers[rank - 1];
                processes.Add(Start($"worker{rank}", placement.Device, captureOutput: false,
                [
                    "worker", "--rank", Text(rank), "--world-size", Text(worldSize), "--interface", placement.Interface,
                    "--threads", Text(placement.Threads), .. rendezvous,
                ]));
            }
            var driver = Start("driver", options.DriverDevice, captureOutput: true, DriverArguments(options, rendezvous));
            processes.Add(driver);
            var workers = processes[..^1];
            await WaitForDriverAsync(driver, workers, deadline.Token, cancellation, options.Timeout);
            var stdout = await driver.ResultAsync();
            await StopWorkersAsync(workers);
            var result = Parse<PyTorchRpcResult>(stdout, "drive");
            return result with { Workers = [.. result.Workers.Select(w => w with { Device = options.Workers[w.Stage].Device })] };
        }
        finally
        {
            foreach (var process in processes)
            {
                process.Dispose();
            }
        }
    }

    private static List<string> DriverArguments(PyTorchRpcOptions options, List<string> rendezvous)
    {
        List<string> arguments =
        [
            "drive", "--onnx", Path.GetFullPath(options.ModelPath), "--cuts", string.Join(',', options.Cuts),
            "--interface", options.DriverInterface, "--threads", "1", .. rendezvous,
            "--mode", options.Schedule == PyTorchSchedule.Sequential ? "sequential" : "pipelined",
            "--in-flight", Text(options.InFlight), "--route", options.Route == PyTorchRoute.Chain ? "chain" : "via-driver",
            "--fps", Text(options.FramesPerSecond), "--deadline-ms", Text(options.Deadline.TotalMilliseconds),
            "--count", Text(options.Frames), "--warmup", Text(options.Warmup), "--seed", Text(options.Seed),
            "--outputs", Text(options.OutputsKept),
        ];
        if (options.DropWhenFull)
        {
            arguments.Add("--drop-when-full");
        }
        if (options.FramesFile is { } frames)
        {
            arguments.AddRange(["--frames", Path.GetFullPath(frames)]);
        }
        if (options.Slowdowns.Count > 0)
        {
            arguments.AddRange(["--slowdowns", string.Join(',', options.Slowdowns.Select(Text))]);
        }
        if (options.HopDelaysMs.Count > 0)
        {
            arguments.AddRange(["--hop-delays-ms", string.Join(',', options.HopDelaysMs.Select(Text))]);
        }
        return arguments;
    }

    /// <summary>
    /// Waits for the driver; a worker that fails first would leave it waiting at the rendezvous, so that
    /// ends the run. (Workers exit 0 a moment before the driver at a normal end.)
    /// </summary>
    private static async Task WaitForDriverAsync(PyTorchProcess driver, IReadOnlyList<PyTorchProcess> workers,
        CancellationToken deadline, CancellationToken cancellation, TimeSpan timeout)
    {
        var driverExit = driver.WaitForExitAsync(deadline);
        while (true)
        {
            try
            {
                await driverExit.WaitAsync(TimeSpan.FromMilliseconds(200), deadline);
                return;
            }
            catch (TimeoutException)
            {
                if (workers.FirstOrDefault(w => w.HasFailed) is { } dead)
                {
                    throw dead.Failure();
                }
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                throw new PyTorchRunException($"the PyTorch run did not finish in {timeout.TotalSeconds:0} s");
            }
        }
    }

    private static async Task StopWorkersAsync(IReadOnlyList<PyTorchProcess> workers)
    {
        // Workers leave on their own once the driver's graceful shutdown is done; give them a moment.
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        foreach (var worker in workers)
        {
            try
            {
                await worker.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                worker.Kill();
            }
        }
    }

    private async Task<string> RunToEndAsync(string role, string device, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellation)
    {
        using var process = Start(role, device, captureOutput: true, arguments);
        try
        {
            await process.WaitForExitAsync(cancellation).WaitAsync(timeout, cancellation);
        }
        catch (TimeoutException)
        {
            throw new PyTorchRunException($"PyTorch {role} did not finish in {timeout.TotalSeconds:0} s");
        }
        return await process.ResultAsync();
    }

    private PyTorchProcess Start(string role, string device, bool captureOutput, IReadOnlyList<string> arguments) =>
        new(role, device, _launcher(device, environment.Command(arguments), captureOutput));

    private static T Parse<T>(string stdout, string command)
    {
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'));
        try
        {
            return (line is null ? default : JsonSerializer.Deserialize<T>(line, Json))
                ?? throw new PyTorchRunException($"PyTorch '{command}' printed no result");
        }
        catch (JsonException ex)
        {
            throw new PyTorchRunException($"PyTorch '{command}' printed a result this version cannot read: {ex.Message}");
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
}
