using System.Diagnostics;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using EdgeSplit.Zoo;

namespace EdgeSplit.Testbed.Calibration;

/// <summary>One reference model timed on this machine: median wall and median CPU time of a batch-1 run.</summary>
public sealed record ModelTiming(string Model, int Threads, double WallMs, double CpuMs, int Runs);

/// <summary>
/// Times reference models with ONNX Runtime (explicit intra-op threads, spinning off) at batch 1.
/// With one thread ORT runs on the calling thread, so the thread's CPU time is the run's work, which
/// other tenants of a busy host do not inflate; with more threads only the wall time means anything.
/// </summary>
public sealed class ReferenceTimer : IDisposable
{
    private readonly ModelSession session;
    private readonly Dictionary<string, TensorData> inputs;

    public ReferenceTimer(string model, int threads)
    {
        if (!ModelZoo.BuiltNames.Contains(model))
        {
            throw new BadInputException($"'{model}' is not a zoo model; use one of {string.Join(", ", ModelZoo.BuiltNames)}");
        }
        Model = model;
        Threads = threads;
        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(ModelZoo.Build(model));
        var onnx = OnnxModel.Parse(bytes, model);
        inputs = RandomInputs.Create(onnx, InputShapes.Resolve(onnx, null), seed: 7).ToDictionary(t => t.Name);
        session = new ModelSession(bytes, threads);
    }

    /// <summary>The pause before each timed run.</summary>
    public const int PauseMs = 20;

    public string Model { get; }

    public int Threads { get; }

    /// <summary>One run: wall time and the calling thread's CPU time.</summary>
    public (TimeSpan Wall, TimeSpan Cpu) RunOnce()
    {
        var cpu = ThreadCpuClock.Now();
        var wall = Stopwatch.GetTimestamp();
        session.Run(inputs);
        return (Stopwatch.GetElapsedTime(wall), ThreadCpuClock.Now() - cpu);
    }

    /// <summary>
    /// A few warm-up runs, then the median of <paramref name="runs"/> timed runs, each after a short pause as
    /// a camera's frames arrive (an isolated run costs ~10% more CPU than back-to-back ones: colder caches,
    /// measured here; isolated runs are what an emulated device does), in three rounds half a second apart
    /// so one burst of other tenants' load does not set the figure.
    /// </summary>
    public ModelTiming Time(int runs, CancellationToken cancel = default)
    {
        for (var i = 0; i < 3; i++)
        {
            RunOnce();
        }
        var walls = new List<double>(runs);
        var cpus = new List<double>(runs);
        for (var i = 0; i < runs; i++)
        {
            cancel.ThrowIfCancellationRequested();
            Thread.Sleep(i > 0 && i % Math.Max(1, runs / 3) == 0 ? 500 : PauseMs);
            var (wall, cpu) = RunOnce();
            walls.Add(wall.TotalMilliseconds);
            cpus.Add(cpu.TotalMilliseconds);
        }
        return new ModelTiming(Model, Threads, Median(walls), Median(cpus), runs);
    }

    /// <summary>Times each model in turn with its own session.</summary>
    public static IReadOnlyList<ModelTiming> TimeAll(IEnumerable<string> models, int threads, int runs, CancellationToken cancel = default)
    {
        var timings = new List<ModelTiming>();
        foreach (var model in models)
        {
            using var timer = new ReferenceTimer(model, threads);
            timings.Add(timer.Time(runs, cancel));
        }
        return timings;
    }

    public void Dispose() => session.Dispose();

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2;
    }
}
