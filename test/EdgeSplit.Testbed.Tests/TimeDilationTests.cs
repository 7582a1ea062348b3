using System.Reflection;
using EdgeSplit.Cluster.Agent;
using EdgeSplit.Cluster.Coordinator;
using EdgeSplit.Cluster.Monitoring;
using EdgeSplit.Graph;
using EdgeSplit.Planning;

namespace EdgeSplit.Testbed.Tests;

/// <summary>
/// A dilated testbed stretches every duration the coordinator, the agents and the adaptive loop wait:
/// each one is found here by reflection, so a duration option added later and left unscaled fails a test.
/// </summary>
public sealed class TimeDilationTests : IDisposable
{
    private const double Factor = 2.5;
    private static readonly TimeDilation K = new(Factor);
    private readonly string dir = Directory.CreateTempSubdirectory("es-dilation-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Every_duration_of_the_coordinator_options_is_stretched()
    {
        var options = new CoordinatorOptions { MetricsInterval = TimeSpan.FromMilliseconds(400) };
        var durations = AssertEveryDurationStretched(options, K.Apply(options));
        // The ones the core redesign added are among them, and the channels' timeouts inside.
        Assert.Contains("StallAfter", durations);
        Assert.Contains("ReplanBackoff", durations);
        Assert.Contains("Channels.KeepAliveTimeout", durations);
    }

    [Fact]
    public void Every_duration_of_the_agent_options_is_stretched()
    {
        var options = new AgentOptions("pi", "127.0.0.1:0") { Emulation = null };
        var durations = AssertEveryDurationStretched(options, K.Apply(options));
        Assert.Contains("PeerProbeTimeout", durations);
        Assert.Contains("Monitoring.Interval", durations);
    }

    [Fact]
    public void The_adaptive_sampling_period_and_the_policys_dwell_are_stretched_even_when_left_at_their_defaults()
    {
        var options = new AdaptiveOptions("optimal", Objective.Latency);
        var dilated = K.Apply(options);
        Assert.Equal(options.MetricsInterval * Factor, dilated.MetricsInterval);
        Assert.Equal(AdaptationOptions.Default.MinDwell * Factor, dilated.EffectiveAdaptation.MinDwell);
        AssertEveryDurationStretched(options with { Adaptation = options.EffectiveAdaptation }, dilated);
    }

    [Fact]
    public void An_undilated_testbed_leaves_options_as_they_are_and_infinite_waits_stay_infinite()
    {
        var options = new CoordinatorOptions { RetireTimeout = Timeout.InfiniteTimeSpan, DeployTimeout = TimeSpan.MaxValue };
        Assert.Same(options, TimeDilation.None.Apply(options));
        var dilated = K.Apply(options);
        Assert.Equal(Timeout.InfiniteTimeSpan, dilated.RetireTimeout);
        Assert.Equal(TimeSpan.MaxValue, dilated.DeployTimeout);
    }

    [Fact]
    public void An_agent_process_takes_the_dilation_its_emulation_file_names()
    {
        var file = Path.Combine(dir, "pi.links.json");
        EmulatedLinks.Write(file, new EmulatedLinksFile("pi", 3, []) { TimeDilation = Factor });
        var options = new AgentOptions("pi") { Emulation = EmulatedLinks.Open(file) };
        AssertEveryDurationStretched(options, TimeDilation.ApplyFromEmulation(options));

        var real = options with { Emulation = null };
        Assert.Same(real, TimeDilation.ApplyFromEmulation(real));

        EmulatedLinks.Write(file, new EmulatedLinksFile("pi", 3, []) { TimeDilation = 0.5 });
        var error = Assert.Throws<BadInputException>(() => TimeDilation.ApplyFromEmulation(options with { Emulation = EmulatedLinks.Open(file) }));
        Assert.Contains("time_dilation", error.Message);
    }

    /// <summary>Asserts each duration of <paramref name="original"/> (nested option records included) is x<see cref="Factor"/> in <paramref name="dilated"/>; returns their paths.</summary>
    private static List<string> AssertEveryDurationStretched(object original, object dilated)
    {
        var before = Durations(original, "").ToList();
        var after = Durations(dilated, "").ToDictionary(d => d.Path, d => d.Value);
        Assert.NotEmpty(before);
        foreach (var (path, value) in before)
        {
            Assert.True(value is { } span && span > TimeSpan.Zero, $"{path} is unset or not positive: give it a value so the test checks it");
            Assert.True(after[path] == value * Factor, $"{path}: {value} became {after[path]}, not x{Factor}");
        }
        return [.. before.Select(d => d.Path)];
    }

    /// <summary>A record of this project (channel timeouts, monitor settings, the policy's): its durations are options too.</summary>
    private static bool IsOptionsRecord(Type type) =>
        type.Namespace?.StartsWith("EdgeSplit.", StringComparison.Ordinal) == true && type.GetMethod("<Clone>$") is not null;

    /// <summary>Every public settable TimeSpan or TimeSpan? property, and those of the EdgeSplit records it holds, by path.</summary>
    private static IEnumerable<(string Path, TimeSpan? Value)> Durations(object options, string prefix)
    {
        foreach (var property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var value = property.GetValue(options);
            if (property.PropertyType == typeof(TimeSpan) || property.PropertyType == typeof(TimeSpan?))
            {
                yield return (prefix + property.Name, (TimeSpan?)value);
            }
            else if (value is not null && IsOptionsRecord(value.GetType()))
            {
                foreach (var nested in Durations(value, $"{prefix}{property.Name}."))
                {
                    yield return nested;
                }
            }
        }
    }
}
