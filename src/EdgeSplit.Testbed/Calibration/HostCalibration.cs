using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeSplit.Testbed.Config;

namespace EdgeSplit.Testbed.Calibration;

/// <summary>
/// This host's own latency of the reference models: ONNX Runtime, one intra-op thread (as every
/// emulated device runs), spinning off, median CPU time of a batch-1 run. Device speeds are the ratio
/// of these to the profiles' published figures. Measured once per host and ONNX Runtime version and
/// cached (<see cref="CacheFile"/>), since a few seconds of timing at every start would be wasted.
/// </summary>
public sealed record HostCalibration(
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("cores")] int Cores,
    [property: JsonPropertyName("runtime")] string Runtime,
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("measured_at")] DateTimeOffset MeasuredAt,
    [property: JsonPropertyName("cpu_ms")] IReadOnlyDictionary<string, double> CpuMs)
{
    private const int Runs = 21;

    /// <summary>How the figures are taken; a cache taken another way is measured again.</summary>
    public static string CurrentMethod => $"ONNX Runtime, 1 intra-op thread, spinning off, median CPU time of {Runs} runs each {ReferenceTimer.PauseMs} ms after the last, in 3 rounds";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Where the calibration is cached: <c>EDGESPLIT_HOST_CALIBRATION</c>, else the XDG cache folder.</summary>
    public static string CacheFile =>
        Environment.GetEnvironmentVariable("EDGESPLIT_HOST_CALIBRATION") is { Length: > 0 } file ? file
        : Path.Combine(
            Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
            "edgesplit", "host-calibration.json");

    /// <summary>What the cache must match: this CPU model, its core count and the ONNX Runtime version.</summary>
    public static (string Host, int Cores, string Runtime) Identity { get; } = (CpuModel(), Environment.ProcessorCount,
        typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version?.ToString() ?? "unknown");

    /// <summary>The cached calibration of this host, or a fresh measurement (then cached in <paramref name="cacheFile"/>, default <see cref="CacheFile"/>).</summary>
    public static HostCalibration LoadOrMeasure(Action<string>? log = null, CancellationToken cancel = default, string? cacheFile = null)
    {
        var file = cacheFile ?? CacheFile;
        if (TryLoad(file) is { } cached)
        {
            return cached;
        }
        log?.Invoke($"calibrating this host once: ONNX Runtime latency of {string.Join(", ", ReferenceModels.Measured)} (1 thread); cached in {file}");
        return Refresh(null, cancel, file);
    }

    /// <summary>
    /// Measures now and replaces the cache (<c>testbed check</c> does, so what it checks is calibrated against
    /// the host as it is: a busy host's CPU time of a model drifts, by up to ~40% measured under a load average of 20).
    /// </summary>
    public static HostCalibration Refresh(Action<string>? log = null, CancellationToken cancel = default, string? cacheFile = null)
    {
        var file = cacheFile ?? CacheFile;
        log?.Invoke($"calibrating this host: ONNX Runtime latency of {string.Join(", ", ReferenceModels.Measured)} (1 thread); cached in {file}");
        var measured = Measure(ReferenceModels.Measured, cancel);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            var temp = file + "." + Environment.ProcessId + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(measured, Json));
            File.Move(temp, file, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            log?.Invoke($"could not cache the host calibration in {file} ({ex.Message}); it will be measured again next time");
        }
        return measured;
    }

    /// <summary>Measures the models now (a few seconds), without the cache.</summary>
    public static HostCalibration Measure(IEnumerable<string> models, CancellationToken cancel = default)
    {
        var timings = ReferenceTimer.TimeAll(models, threads: 1, Runs, cancel);
        return new HostCalibration(Identity.Host, Identity.Cores, Identity.Runtime, CurrentMethod, DateTimeOffset.UtcNow,
            timings.ToDictionary(t => t.Model, t => Math.Round(t.CpuMs, 4)));
    }

    /// <summary>One line for reports: what the host is and what it measured.</summary>
    public string Describe() =>
        $"{Host} ({Cores} cores), ONNX Runtime {Runtime}, 1 thread: " +
        string.Join(", ", CpuMs.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key} {m.Value.ToString("0.##", CultureInfo.InvariantCulture)} ms"));

    private static HostCalibration? TryLoad(string file)
    {
        try
        {
            if (!File.Exists(file))
            {
                return null;
            }
            var loaded = JsonSerializer.Deserialize<HostCalibration>(File.ReadAllText(file), Json);
            var (host, cores, runtime) = Identity;
            return loaded is not null && loaded.Host == host && loaded.Cores == cores && loaded.Runtime == runtime && loaded.Method == CurrentMethod
                && ReferenceModels.Measured.All(m => loaded.CpuMs.TryGetValue(m, out var ms) && ms > 0)
                ? loaded : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            // A corrupt or unreadable cache is measured again.
            return null;
        }
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
            return line?.Split(':', 2)[1].Trim() ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
