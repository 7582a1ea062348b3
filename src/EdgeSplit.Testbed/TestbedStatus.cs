namespace EdgeSplit.Testbed;

/// <summary>One device as <c>testbed status</c> shows it.</summary>
public sealed record DeviceStatus(string Name, string Profile, string Unit, string Address, int Port, int? Pid, bool Running, bool NamespaceExists, bool CgroupsExist, double BusyCores, string Cpus, long MemoryMb, double Slowdown);

/// <summary>One link as <c>testbed status</c> shows it (figures as configured, before dilation), with the qdisc really installed.</summary>
public sealed record LinkStatus(string A, string B, string AddressA, string AddressB, double BandwidthMbps, double LatencyMs, string Qdisc);

/// <summary>What <c>testbed status</c> reports.</summary>
public sealed record TestbedStatus(string Name, TestbedMode Mode, string Source, string Host, double DilationFactor, int? OwnerPid, IReadOnlyList<DeviceStatus> Devices, IReadOnlyList<LinkStatus> Links);
