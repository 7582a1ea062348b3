namespace EdgeSplit.Tests;

/// <summary>
/// Names for the testbeds tests bring up. Namespaces, interfaces and the marks that tell a testbed's processes
/// from others' are named after the testbed, and other runs of the suite may be up on this host at the same
/// time: a fixed name collides with theirs, so each name carries this process's id.
/// </summary>
public static class TestbedNames
{
    /// <summary><paramref name="name"/> (at most 14 characters) and this process's id: unique on this host while the test runs.</summary>
    public static string Unique(string name) =>
        name.Length <= 14 ? $"{name}-{Environment.ProcessId % 100_000}" : throw new ArgumentException($"'{name}' is longer than 14 characters; testbed names stop at 24", nameof(name));
}
