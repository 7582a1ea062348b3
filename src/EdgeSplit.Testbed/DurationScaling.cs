using System.Reflection;

namespace EdgeSplit.Testbed;

/// <summary>
/// Multiplies every duration of an options record: each public settable <see cref="TimeSpan"/> or
/// <see cref="Nullable{TimeSpan}"/> property, and those of the EdgeSplit option records it holds (channel
/// timeouts, monitor settings, the adaptation policy's). Found by reflection, so a duration added to an
/// options record is dilated without anyone keeping a list in sync. Infinite (negative) durations stay
/// infinite and a product past <see cref="TimeSpan.MaxValue"/> becomes it.
/// </summary>
internal static class DurationScaling
{
    private const int MaxDepth = 4;

    /// <summary>A copy of <paramref name="options"/> with every duration x <paramref name="factor"/>; the same instance when it holds none.</summary>
    public static T Scale<T>(T options, double factor) where T : class => (T)Scale((object)options, factor, 0);

    private static object Scale(object options, double factor, int depth)
    {
        var type = options.GetType();
        var clone = type.GetMethod("<Clone>$", BindingFlags.Public | BindingFlags.Instance)
            ?? throw new ArgumentException($"{type.Name} is not a record", nameof(options));
        object? copy = null;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!property.CanRead || !property.CanWrite || property.GetIndexParameters().Length > 0)
            {
                continue;
            }
            var value = property.GetValue(options);
            var scaled = value switch
            {
                TimeSpan span => Stretch(span, factor),
                not null when depth < MaxDepth && IsOptionsRecord(value.GetType()) => Scale(value, factor, depth + 1),
                _ => value,
            };
            if (!Equals(scaled, value))
            {
                copy ??= clone.Invoke(options, null)!;
                property.SetValue(copy, scaled);
            }
        }
        return copy ?? options;
    }

    private static TimeSpan Stretch(TimeSpan span, double factor) =>
        span <= TimeSpan.Zero ? span
        : span.Ticks >= TimeSpan.MaxValue.Ticks / factor ? TimeSpan.MaxValue
        : span * factor;

    /// <summary>A record of this project (not a framework type, not a collection): one whose durations are options too.</summary>
    private static bool IsOptionsRecord(Type type) =>
        type.Namespace?.StartsWith("EdgeSplit.", StringComparison.Ordinal) == true
        && type.GetMethod("<Clone>$", BindingFlags.Public | BindingFlags.Instance) is not null;
}
