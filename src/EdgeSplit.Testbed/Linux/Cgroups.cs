using System.Globalization;

namespace EdgeSplit.Testbed.Linux;

/// <summary>CPU and memory limits of one emulated device: its cpuset, a CPU cap in host cores (null: none) and its memory.</summary>
public sealed record CpuMemoryLimits(string Cpus, double? CapCores, long MemoryBytes);

/// <summary>
/// The cgroups of one emulated device, v1 (separate cpu, cpuset and memory hierarchies) or v2
/// (one directory with cpu.max, cpuset.cpus and memory.max). <see cref="Directories"/> is what
/// must be removed on teardown; <see cref="ProcsFiles"/> is where a process is written to join.
/// </summary>
/// <remarks>
/// The quota caps what a device may take of the host. The highest weight (cpu.shares 262144 / cpu.weight
/// 10000) lets a device's short bursts run as soon as they are due on a host busy with other work, as on
/// the real board; the device's agent stretches each burst to the board's speed, so on average it uses
/// only its share (measured: with the default weight a Jetson's 4.6 ms burst took ~40% longer under a
/// load average of 20).
/// </remarks>
public sealed record CgroupSet(bool V2, IReadOnlyList<string> Directories)
{
    public const int PeriodMicroseconds = 20_000;

    public IEnumerable<string> ProcsFiles => Directories.Select(d => Path.Combine(d, "cgroup.procs"));

    /// <summary>True on a pure cgroup v2 host (the unified hierarchy at the root).</summary>
    public static bool HostIsV2(string root = "/sys/fs/cgroup") => File.Exists(Path.Combine(root, "cgroup.controllers"));

    /// <summary>Creates (or reuses) the cgroups named <paramref name="name"/> and applies the limits.</summary>
    public static CgroupSet Create(string name, CpuMemoryLimits limits, string root = "/sys/fs/cgroup")
    {
        if (HostIsV2(root))
        {
            // Controllers must be enabled for children of the root before a child can use them.
            TryWrite(Path.Combine(root, "cgroup.subtree_control"), "+cpu +cpuset +memory");
            var dir = Path.Combine(root, name);
            Directory.CreateDirectory(dir);
            var set = new CgroupSet(true, [dir]);
            set.Apply(limits);
            return set;
        }
        var dirs = new List<string>();
        foreach (var controller in new[] { "cpu", "cpuset", "memory" })
        {
            var mount = Path.Combine(root, controller);
            if (!Directory.Exists(mount))
            {
                throw new TestbedException($"cgroup v1 controller '{controller}' is not mounted at {mount}; mount it or use a cgroup v2 host");
            }
            var dir = Path.Combine(mount, name);
            Directory.CreateDirectory(dir);
            dirs.Add(dir);
            if (controller == "cpuset")
            {
                // A v1 cpuset child starts empty and refuses tasks until both files are set.
                Write(Path.Combine(dir, "cpuset.mems"), File.ReadAllText(Path.Combine(mount, "cpuset.mems")).Trim());
            }
        }
        var v1 = new CgroupSet(false, dirs);
        v1.Apply(limits);
        return v1;
    }

    public void Apply(CpuMemoryLimits limits)
    {
        if (V2)
        {
            var dir = Directories[0];
            Write(Path.Combine(dir, "cpuset.cpus"), limits.Cpus);
            Write(Path.Combine(dir, "cpu.weight"), "10000");
            Write(Path.Combine(dir, "memory.max"), limits.MemoryBytes.ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            foreach (var dir in Directories)
            {
                switch (Path.GetFileName(Path.GetDirectoryName(dir)))
                {
                    case "cpu":
                        Write(Path.Combine(dir, "cpu.shares"), "262144");
                        break;
                    case "cpuset":
                        Write(Path.Combine(dir, "cpuset.cpus"), limits.Cpus);
                        break;
                    case "memory":
                        Write(Path.Combine(dir, "memory.limit_in_bytes"), limits.MemoryBytes.ToString(CultureInfo.InvariantCulture));
                        break;
                }
            }
        }
        SetQuota(limits.CapCores);
    }

    /// <summary>Caps the CPU at <paramref name="cores"/> of the host (null: unlimited).</summary>
    public void SetQuota(double? cores)
    {
        const int period = PeriodMicroseconds;
        var quota = cores is { } c ? Math.Max(1000, (long)Math.Round(c * period)) : -1;
        if (V2)
        {
            Write(Path.Combine(Directories[0], "cpu.max"), $"{(quota < 0 ? "max" : quota.ToString(CultureInfo.InvariantCulture))} {period}");
            return;
        }
        foreach (var dir in Directories.Where(d => Path.GetFileName(Path.GetDirectoryName(d)) == "cpu"))
        {
            // Lift the quota before changing the period: the kernel refuses a period the old quota would exceed.
            Write(Path.Combine(dir, "cpu.cfs_quota_us"), "-1");
            Write(Path.Combine(dir, "cpu.cfs_period_us"), period.ToString(CultureInfo.InvariantCulture));
            Write(Path.Combine(dir, "cpu.cfs_quota_us"), quota.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Moves a running process (all its threads) into every cgroup of the set.</summary>
    public void Join(int pid)
    {
        foreach (var procs in ProcsFiles)
        {
            Write(procs, pid.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Processes in the set (from its first directory).</summary>
    public IReadOnlyList<int> Processes() => ProcessesIn(Directories);

    internal static IReadOnlyList<int> ProcessesIn(IEnumerable<string> directories)
    {
        var pids = new HashSet<int>();
        foreach (var dir in directories)
        {
            var procs = Path.Combine(dir, "cgroup.procs");
            if (!File.Exists(procs))
            {
                continue;
            }
            foreach (var line in File.ReadAllLines(procs))
            {
                if (int.TryParse(line, CultureInfo.InvariantCulture, out var pid))
                {
                    pids.Add(pid);
                }
            }
        }
        return [.. pids];
    }

    /// <summary>Kills every process in the directories and removes them; waits up to 5 s for the processes to go.</summary>
    public static void Remove(IReadOnlyList<string> directories)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            var pids = ProcessesIn(directories);
            foreach (var pid in pids)
            {
                Exec.Try("kill", "-9", pid.ToString(CultureInfo.InvariantCulture));
            }
            var left = new List<string>();
            foreach (var dir in directories.Where(Directory.Exists))
            {
                try
                {
                    // cgroupfs directories hold only virtual files: rmdir, never a recursive delete.
                    Directory.Delete(dir);
                }
                catch (IOException)
                {
                    left.Add(dir);
                }
            }
            if (left.Count == 0)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TestbedException($"could not remove cgroup(s) {string.Join(", ", left)}: processes remain; kill them and run 'edgesplit testbed down --all'");
            }
            Thread.Sleep(50);
        }
    }

    private static void Write(string file, string value)
    {
        try
        {
            File.WriteAllText(file, value);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TestbedException($"cannot write '{value}' to {file}: {ex.Message}", ex);
        }
    }

    private static void TryWrite(string file, string value)
    {
        try
        {
            File.WriteAllText(file, value);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Already enabled, or delegated differently; Apply will say what is missing.
        }
    }
}
