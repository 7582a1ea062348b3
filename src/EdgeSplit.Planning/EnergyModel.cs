namespace EdgeSplit.Planning;

/// <summary>
/// The one energy formula (an estimate from power models): a stage costs its device's power above
/// idle over its compute time, a transfer costs its bytes at the sender's and the receiver's joules per byte.
/// </summary>
public static class EnergyModel
{
    public static double ComputeJ(DevicePowerModel device, double computeMs) => device.ActiveWatts * computeMs / 1000.0;

    public static double TransferJ(DevicePowerModel from, DevicePowerModel to, long bytes) => bytes * (from.SendJoulesPerByte + to.ReceiveJoulesPerByte);

    /// <summary>One served request: each stage's observed compute on its device plus each observed transfer; unknown devices cost nothing.</summary>
    public static double RequestJ(PlanningState state, Plan plan, IReadOnlyList<double> stageComputeMs, IReadOnlyList<HopObservation> hops)
    {
        double joules = 0;
        for (var k = 0; k < stageComputeMs.Count && k < plan.Stages.Count; k++)
        {
            joules += ComputeJ(PowerOf(state, plan.Stages[k].Device), stageComputeMs[k]);
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
