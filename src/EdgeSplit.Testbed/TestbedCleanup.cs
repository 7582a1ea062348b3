using EdgeSplit.Testbed.Linux;

namespace EdgeSplit.Testbed;

/// <summary>Host-wide cleanup: testbeds whose owner died, and (<c>testbed down --all</c>) everything named es-*.</summary>
public static class TestbedCleanup
{
    /// <summary>Tears down testbeds whose owning process died without doing so (a crash, a kill -9).</summary>
    public static void CleanLeftovers(string stateRoot, Action<string> log)
    {
        foreach (var name in RunningTestbed.ListNames(stateRoot))
        {
            if (RunningTestbed.TryLoad(stateRoot, name) is { OwnerPid: { } owner } state && !Exec.ProcessAlive(owner))
            {
                log($"removing leftovers of testbed '{name}' (its owner, pid {owner}, is gone)");
                new RunningTestbed(state, RunningTestbed.StateFileFor(stateRoot, name), log).Down();
            }
        }
    }

    /// <summary>Removes every namespace, interface and cgroup named with the es- prefix, and all state files.</summary>
    public static int DownAll(string? stateRoot = null, Action<string>? log = null)
    {
        stateRoot ??= RunningTestbed.DefaultStateRoot;
        var count = 0;
        foreach (var name in RunningTestbed.ListNames(stateRoot))
        {
            RunningTestbed.Open(name, stateRoot, log).Down();
            count++;
        }
        if (RunningTestbed.CanUseNamespaces)
        {
            foreach (var ns in Exec.Run("ip", "netns", "list").Stdout.Split('\n').Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(RunningTestbed.Prefix, StringComparison.Ordinal)))
            {
                DeviceProcesses.KillNamespaceProcesses(ns);
                Exec.Try("ip", "netns", "del", ns);
                count++;
            }
            foreach (var link in Exec.Run("ip", "-o", "link", "show").Stdout.Split('\n').Select(l => l.Split(':', 3)).Where(p => p.Length == 3).Select(p => p[1].Trim().Split('@')[0]).Where(n => n.StartsWith(RunningTestbed.Prefix, StringComparison.Ordinal)))
            {
                Exec.Try("ip", "link", "del", link);
            }
            var root = "/sys/fs/cgroup";
            var candidates = CgroupSet.HostIsV2(root) ? [root] : new[] { "cpu", "cpuset", "memory" }.Select(c => Path.Combine(root, c)).Where(Directory.Exists);
            var dirs = candidates.SelectMany(c => Directory.EnumerateDirectories(c, RunningTestbed.Prefix + "*")).ToList();
            CgroupSet.Remove(dirs);
        }
        return count;
    }
}
