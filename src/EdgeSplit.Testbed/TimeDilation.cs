using System.Globalization;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Graph;

namespace EdgeSplit.Testbed;

/// <summary>
/// Time dilation (DieCast, NSDI'08; time-warped network emulation, NSDI'06): when the emulated devices
/// would ask for more CPU than this host can give, the whole testbed runs <see cref="Factor"/> times
/// slower, so every device still gets its share. Devices' speeds (host cores) and link bandwidths are divided by the factor;
/// latencies, timers, deadlines, sampling periods and scenario times are multiplied by it; every time
/// reported is divided by it again and labelled dilated. The one place the factor is applied.
/// </summary>
public sealed record TimeDilation
{
    /// <summary>Cores left to the coordinator, the client and the kernel when sizing the factor.</summary>
    public const double DefaultHeadroomCores = 0.5;

    public TimeDilation(double factor)
    {
        Factor = factor >= 1 && double.IsFinite(factor) ? factor : throw new ArgumentOutOfRangeException(nameof(factor), factor, "a dilation factor is at least 1");
    }

    public static TimeDilation None { get; } = new(1);

    /// <summary>How many times slower the testbed runs than the devices it emulates (1 = real time).</summary>
    public double Factor { get; }

    public bool IsDilated => Factor > 1;

    /// <summary>
    /// The smallest factor (rounded up to 0.05) at which the devices' CPU, <paramref name="demandCores"/>
    /// in host cores, fits in <paramref name="hostCores"/> minus <paramref name="headroomCores"/>, and no
    /// single device needs more than one core (each emulated device runs ONNX Runtime on one thread).
    /// </summary>
    public static TimeDilation For(IReadOnlyCollection<double> demandCores, int hostCores, double headroomCores = DefaultHeadroomCores)
    {
        var capacity = Math.Max(0.25, hostCores - headroomCores);
        var needed = Math.Max(1, Math.Max(demandCores.Sum() / capacity, demandCores.DefaultIfEmpty(0).Max()));
        return new TimeDilation(Math.Ceiling(needed * 20 - 1e-9) / 20);
    }

    /// <summary>A duration on the emulated devices' clock as it passes on the host: timers, deadlines, scenario times.</summary>
    public TimeSpan Stretch(TimeSpan emulated) => emulated * Factor;

    /// <summary>Milliseconds of emulated time as they pass on the host (link latency).</summary>
    public double StretchMs(double emulatedMs) => emulatedMs * Factor;

    /// <summary>A rate of the emulated devices as the host gives it (link bandwidth, a device's speed in host cores).</summary>
    public double Slow(double rate) => rate / Factor;

    /// <summary>A duration measured on the host, reported on the emulated devices' clock.</summary>
    public TimeSpan Report(TimeSpan measured) => measured / Factor;

    /// <summary>Milliseconds measured on the host, reported on the emulated devices' clock.</summary>
    public double ReportMs(double measuredMs) => measuredMs / Factor;

    /// <summary>The coordinator's timers, deadlines, periods and channel timeouts on the dilated clock: every duration of the options.</summary>
    public CoordinatorOptions Apply(CoordinatorOptions options) => StretchAll(options);

    /// <summary>An agent's deadlines, probe periods, shutdown grace, sampling period and channel timeouts on the dilated clock.</summary>
    public AgentOptions Apply(AgentOptions options) => StretchAll(options);

    /// <summary>The adaptive loop's sampling period and the policy's dwell on the dilated clock.</summary>
    public AdaptiveOptions Apply(AdaptiveOptions options) => StretchAll(options with { Adaptation = options.EffectiveAdaptation });

    /// <summary>
    /// An agent process on an emulated device: its options on the clock its emulation file's
    /// <c>time_dilation</c> names (none on a real device or an undilated testbed).
    /// </summary>
    public static AgentOptions ApplyFromEmulation(AgentOptions options) => options.Emulation?.Current.TimeDilation switch
    {
        null => options,
        >= 1 and var factor when double.IsFinite(factor) => new TimeDilation(factor).Apply(options),
        var factor => throw new BadInputException($"the emulation file ({EmulatedLinks.EnvironmentVariable}) gives time_dilation {factor}; it must be a number >= 1"),
    };

    /// <summary>For reports and consoles: the factor and what it means.</summary>
    public string Label => IsDilated
        ? $"time dilated x{Factor.ToString("0.##", CultureInfo.InvariantCulture)} (the testbed runs {Factor.ToString("0.##", CultureInfo.InvariantCulture)} times slower than the devices it emulates; reported times are divided back)"
        : "not dilated (the host has the CPU the devices need)";

    public override string ToString() => $"x{Factor.ToString("0.##", CultureInfo.InvariantCulture)}";

    private T StretchAll<T>(T options) where T : class => IsDilated ? DurationScaling.Scale(options, Factor) : options;
}
