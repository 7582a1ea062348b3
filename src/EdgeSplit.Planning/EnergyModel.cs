namespace EdgeSplit.Planning;

/// <summary>
/// The one energy formula (an estimate from power models): a stage costs its device's power above
/// idle over its compute time, a transfer costs its bytes at the sender's and the receiver's joules per byte.
/// </summary>
public static class EnergyModel
{
    public static double ComputeJ(DevicePowerModel device, double computeMs) => device.ActiveWatts * computeMs / 1000.0;

    public static double TransferJ(DevicePowerModel from, DevicePowerModel to, long bytes) => bytes * (from.SendJoulesPerByte + to.ReceiveJoulesPerByte);

    /// <summary>
    /// One served request: each stage's observed compute on its device plus each observed transfer; unknown devices cost nothing.
    /// A tile group's stage has no one device's time (NaN): its parts' compute comes in <paramref name="tileComputeMs"/>, each on its own device.
    /// </summary>
    public static double RequestJ(PlanningState state, Plan plan, IReadOnlyList<double> stageComputeMs, IReadOnlyList<HopObservation> hops,
        IReadOnlyList<(string Device, double ComputeMs)>? tileComputeMs = null)
    {
        double joules = 0;
        for (var k = 0; k < stageComputeMs.Count && k < plan.Stages.Count; k++)
        {
            if (double.IsFinite(stageComputeMs[k]))
            {
                joules += ComputeJ(PowerOf(state, plan.Stages[k].Device), stageComputeMs[k]);
            }
        }
        foreach (var (device, ms) in tileComputeMs ?? [])
        {
            joules += ComputeJ(PowerOf(state, device), ms);
        }
        foreach (var hop in hops)
        {
            joules += TransferJ(PowerOf(state, hop.From), PowerOf(state, hop.To), hop.Bytes);
        }
        return joules;
    }

    private static DevicePowerModel PowerOf(PlanningState state, string device) =>
        state.Devices.FirstOrDefault(d => d.Name == device)?.Power ?? DevicePowerModel.None;
}
