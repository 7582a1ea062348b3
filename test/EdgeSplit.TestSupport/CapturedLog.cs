using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace EdgeSplit.Tests;

/// <summary>What a coordinator logged, read back through <see cref="FakeLogCollector"/> (Microsoft.Extensions.Diagnostics.Testing).</summary>
public sealed class CapturedLog
{
    private readonly FakeLogCollector _collector = new();

    /// <summary>A <c>ConfigureLogging</c> that keeps what <paramref name="also"/> sets up and adds this log.</summary>
    public Action<ILoggingBuilder> Configure(Action<ILoggingBuilder>? also = null) => logging =>
    {
        also?.Invoke(logging);
        logging.AddProvider(new FakeLoggerProvider(_collector));
    };

    /// <summary>Whether the coordinator marked <paramref name="device"/> down for a health probe it did not answer (AgentHealth's warning).</summary>
    public bool MarkedDownForAMissedProbe(string device) => _collector.GetSnapshot().Any(r =>
        r.Level == LogLevel.Warning && r.Message.StartsWith($"agent {device} at ", StringComparison.Ordinal) && r.Message.Contains(" is down: ", StringComparison.Ordinal)
        && r.Message.Contains("no answer within", StringComparison.Ordinal));
}
