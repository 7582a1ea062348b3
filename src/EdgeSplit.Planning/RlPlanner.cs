using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeSplit.Planning;

/// <summary>
/// Online learner: a contextual bandit. The context is the state discretised (per-device CPU
/// availability level, per-link bandwidth level on a log2 scale); the actions are candidate
/// plans (the DP's plan on the cost model, on the cost model with each device removed, on
/// randomly perturbed cost models, and every single-device plan). Each arm starts at the reward
/// the cost model predicts and moves to the observed rewards, -(latency + lambda x energy),
/// so it can learn that the model is wrong where the model cannot. Epsilon-greedy exploration
/// decays per context and is safe: it only tries arms the cost model predicts near the best, the
/// bound widening by the model's observed error (<see cref="RlOptions.ExploreSlack"/>) and never past
/// a deadline (<see cref="RlOptions.DeadlineMs"/>). The policy saves to and loads from JSON so a
/// later run starts warm.
/// </summary>
public sealed class RlPlanner : ILearningPlanner
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ContextPolicy> _contexts = [];

    // What each placement has earned in any context: a new context starts from it rather than from
    // the cost model alone, so live measurements that jitter across a context boundary do not make
    // the learner pay again for plans it has already seen fail.
    private readonly Dictionary<string, (long Count, double Mean)> _seen = [];
    private readonly OptimalPlanner _optimal;
    private readonly Random _random;

    // Running mean of |ln(observed cost / predicted cost)| over served requests: how wrong the cost model is.
    private double _logError;
    private long _errorSamples;

    public RlPlanner(CostModel costModel, RlOptions? options = null)
    {
        CostModel = costModel;
        Options = options ?? new RlOptions();
        _optimal = new OptimalPlanner(costModel);
        _random = new Random(Options.Seed);
    }

    public string Name => "rl";

    public CostModel CostModel { get; }

    public RlOptions Options { get; }

    /// <summary>Requests learned from, over all contexts.</summary>
    public long LearnedRequests { get; private set; }

    /// <summary>The cost model's observed relative error, e^(mean |ln(observed / predicted)|) - 1 (0 before any request).</summary>
    public double ObservedError
    {
        get
        {
            lock (_gate) return Math.Exp(_logError) - 1;
        }
    }

    /// <summary>How much worse than the best predicted arm (as a factor on its predicted cost) an explored arm may be predicted.</summary>
    public double ExplorationBound
    {
        get
        {
            lock (_gate) return Bound();
        }
    }

    private double Bound() => (1 + Options.ExploreSlack) * Math.Exp(2 * _logError);

    /// <summary>
    /// The arms exploration may try in this state: feasible, predicted within <see cref="ExplorationBound"/> of the best
    /// predicted arm, and predicted to meet <see cref="RlOptions.DeadlineMs"/> when one is set.
    /// </summary>
    public IReadOnlyList<Plan> SafeToExplore(PlanningState state, Objective objective)
    {
        lock (_gate)
        {
            var policy = ContextFor(state, objective);
            RefreshPriors(policy, state, objective);
            return [.. Safe(policy).Select(a => a.ToPlan())];
        }
    }

    /// <summary>The reward the learner maximises for one request (higher is better).</summary>
    public static double Reward(Objective objective, double latencyMs, double energyJ) => objective.Kind switch
    {
        ObjectiveKind.Energy => -energyJ,
        ObjectiveKind.Weighted => -(latencyMs + (objective.EnergyWeightMsPerJoule * energyJ)),
        _ => -latencyMs,
    };

    /// <summary>The cost model's predicted reward; a plan that cannot keep up with a camera's frames ranks after every one that can, as in <see cref="Objective.Of"/>.</summary>
    private static double Prior(Objective objective, PlanEstimate estimate) =>
        objective.Saturates(estimate.BottleneckMs) ? -estimate.Value(objective) : Reward(objective, estimate.LatencyMs, estimate.EnergyJ);

    public Plan Plan(PlanningState state, Objective objective) => Choose(state, objective).Plan;

    /// <summary>
    /// Like <see cref="Plan"/>, and says whether the plan is an exploration (a random arm rather
    /// than the best), so a caller can try it on fewer requests than a plan it believes in.
    /// </summary>
    public (Plan Plan, bool Explored) Choose(PlanningState state, Objective objective)
    {
        lock (_gate)
        {
            var policy = ContextFor(state, objective);
            RefreshPriors(policy, state, objective);
            var epsilon = Math.Max(Options.MinExploration, Options.InitialExploration / (1 + (policy.Requests / Options.ExplorationHalfLifeRequests)));
            policy.Requests++;
            var best = Best(policy);
            var arm = _random.NextDouble() < epsilon ? Explore(policy) : best;
            return (arm.ToPlan(), !ReferenceEquals(arm, best));
        }
    }

    /// <summary>The plan the learner currently believes best in this state, without exploring.</summary>
    public Plan Exploit(PlanningState state, Objective objective)
    {
        lock (_gate)
        {
            var policy = ContextFor(state, objective);
            RefreshPriors(policy, state, objective);
            return Best(policy).ToPlan();
        }
    }

    /// <summary>
    /// Whether a reward is within <see cref="RlOptions.RuleOutMargin"/> of the best arm's value in this
    /// state's context: an explored plan that earns it deserves more requests, one that does not has
    /// shown enough.
    /// </summary>
    public bool IsCompetitive(PlanningState state, Objective objective, double reward)
    {
        lock (_gate)
        {
            var best = Best(ContextFor(state, objective)).Value;
            return reward >= best - (Options.RuleOutMargin * Math.Abs(best));
        }
    }

    /// <summary>The candidate plans for this state's context.</summary>
    public IReadOnlyList<Plan> Candidates(PlanningState state, Objective objective)
    {
        lock (_gate) return [.. ContextFor(state, objective).Arms.Select(a => a.ToPlan())];
    }

    public void Learn(PlanningState state, Plan plan, Objective objective, double observedLatencyMs, double observedEnergyJ)
    {
        var reward = Reward(objective, observedLatencyMs, observedEnergyJ);
        if (!double.IsFinite(reward)) return;
        lock (_gate)
        {
            var policy = ContextFor(state, objective);
            var signature = plan.Signature();
            var arm = policy.Arms.FirstOrDefault(a => a.Signature == signature);
            if (arm is not null && arm.Prior < 0 && reward < 0)
            {
                // How far the model's prediction of this arm was off (costs are minus rewards).
                _errorSamples++;
                var error = Math.Abs(Math.Log(reward / arm.Prior));
                _logError += Math.Max(1.0 / _errorSamples, Options.ErrorSmoothing) * (error - _logError);
            }
            if (arm is null)
            {
                // A plan chosen elsewhere (e.g. a forced switch) still teaches us something.
                arm = Arm.From(plan, reward, Options.PriorWeight);
                policy.Arms.Add(arm);
            }
            arm.Count++;
            var step = Math.Max(1.0 / arm.Count, Options.MinLearningRate);
            arm.Mean = arm.Count == 1 ? reward : arm.Mean + (step * (reward - arm.Mean));
            var seen = _seen.GetValueOrDefault(signature);
            seen.Count++;
            seen.Mean += Math.Max(1.0 / seen.Count, Options.MinLearningRate) * (reward - seen.Mean);
            _seen[signature] = seen;
            LearnedRequests++;
        }
    }

    /// <summary>
    /// A random arm, mostly among those not yet ruled out (tried <see cref="RlOptions.RuleOutAfter"/>
    /// times and worse than the best by <see cref="RlOptions.RuleOutMargin"/>); ruled-out arms still
    /// get one exploration in ten, so a change of conditions inside a context is noticed.
    /// </summary>
    private Arm Explore(ContextPolicy policy)
    {
        var best = Best(policy).Value;
        var feasible = Safe(policy);
        if (feasible.Count == 0) return Best(policy);
        var plausible = feasible.Where(a => a.Count < Options.RuleOutAfter || a.Value >= best - (Options.RuleOutMargin * Math.Abs(best))).ToList();
        var pool = plausible.Count > 0 && _random.NextDouble() >= 0.1 ? plausible : feasible;
        return pool[_random.Next(pool.Count)];
    }

    /// <summary>Feasible arms predicted within the exploration bound of the best predicted arm (and within the deadline, if set).</summary>
    private List<Arm> Safe(ContextPolicy policy)
    {
        var feasible = policy.Arms.Where(a => a.FeasibleNow).ToList();
        if (feasible.Count == 0) return feasible;
        // Rewards are minus costs: the best predicted arm has the highest prior.
        var bestCost = -feasible.Max(a => a.Prior);
        // A best arm that cannot keep up with a camera carries the saturation penalty: the bound applies to its slowest stage, not to the penalty.
        var limit = bestCost >= Objective.SaturatedPenalty ? Objective.SaturatedPenalty + ((bestCost - Objective.SaturatedPenalty) * Bound())
            : bestCost >= 0 ? bestCost * Bound() : bestCost / Bound();
        return [.. feasible.Where(a => -a.Prior <= limit + 1e-9 && (Options.DeadlineMs is not { } deadline || a.PredictedLatencyMs <= deadline))];
    }

    /// <summary>Re-predicts every arm with the cost model as it is now (it may have corrected itself since).</summary>
    private void RefreshPriors(ContextPolicy policy, PlanningState state, Objective objective)
    {
        foreach (var arm in policy.Arms)
        {
            var estimate = CostModel.Estimate(state, arm.ToPlan());
            // The context ignores memory budgets, so an arm can stop fitting while its context stays.
            arm.FeasibleNow = estimate.Feasible;
            if (estimate.Feasible)
            {
                arm.Prior = Prior(objective, estimate);
                arm.PredictedLatencyMs = estimate.LatencyMs;
            }
        }
        if (!policy.Arms.Any(a => a.FeasibleNow))
        {
            var fresh = _optimal.Plan(state, objective);
            var estimate = CostModel.Estimate(state, fresh);
            policy.Arms.Add(new Arm([.. fresh.Stages], Prior(objective, estimate)) { PriorWeight = Options.PriorWeight, FeasibleNow = true });
        }
    }

    private static Arm Best(ContextPolicy policy)
    {
        Arm? best = null;
        foreach (var arm in policy.Arms)
        {
            if (arm.FeasibleNow && (best is null || arm.Value > best.Value)) best = arm;
        }
        return best ?? throw new NoFeasiblePlanException("rl has no candidate placement that fits the memory budgets and links");
    }

    private ContextPolicy ContextFor(PlanningState state, Objective objective)
    {
        var key = ContextKey(state, objective);
        if (_contexts.TryGetValue(key, out var policy) && policy.Arms.Count > 0) return policy;
        policy = new ContextPolicy { Arms = Candidates(state, objective, key) };
        if (policy.Arms.Count == 0) throw new NoFeasiblePlanException("rl found no candidate placement that fits the memory budgets and links");
        foreach (var arm in policy.Arms)
        {
            if (_seen.TryGetValue(arm.Signature, out var seen))
            {
                // Evidence from other contexts, worth at most enough observations to rule an arm out.
                arm.Count = Math.Min(seen.Count, Options.RuleOutAfter);
                arm.Mean = seen.Mean;
            }
        }
        _contexts[key] = policy;
        return policy;
    }

    /// <summary>The discretised state: model size, objective, CPU level per device, log2 bandwidth level per link.</summary>
    public string ContextKey(PlanningState state, Objective objective)
    {
        var key = new StringBuilder();
        key.Append(CultureInfo.InvariantCulture, $"n={state.Profile.NodeCount};obj={objective.Kind};src={state.SourceDevice};cpu:");
        foreach (var d in state.Devices.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            var level = Math.Min(Options.CpuLevels - 1, (int)Math.Floor(d.CpuAvailability * Options.CpuLevels));
            key.Append(CultureInfo.InvariantCulture, $"{d.Name}={level},");
        }
        key.Append(";bw:");
        foreach (var l in state.Links.OrderBy(l => l.From, StringComparer.Ordinal).ThenBy(l => l.To, StringComparer.Ordinal))
        {
            var level = l.BytesPerSecond > 0 ? (int)Math.Round(Math.Log2(l.BytesPerSecond)) : -1;
            key.Append(CultureInfo.InvariantCulture, $"{l.From}>{l.To}={level},");
        }
        return key.ToString();
    }

    private List<Arm> Candidates(PlanningState state, Objective objective, string key)
    {
        var arms = new List<Arm>();
        void Offer(Func<PlanningState> perturbed)
        {
            if (arms.Count >= Options.MaxArms) return;
            try
            {
                var plan = _optimal.Plan(perturbed(), objective);
                Add(plan);
            }
            catch (NoFeasiblePlanException)
            {
                // That perturbation leaves nothing feasible; other candidates remain.
            }
        }
        void Add(Plan plan)
        {
            var signature = plan.Signature();
            if (arms.Count >= Options.MaxArms || arms.Any(a => a.Signature == signature)) return;
            var estimate = CostModel.Estimate(state, plan);
            if (!estimate.Feasible) return;
            arms.Add(Arm.From(plan, Reward(objective, estimate.LatencyMs, estimate.EnergyJ), Options.PriorWeight));
        }

        Offer(() => state);
        foreach (var device in state.Devices.Where(d => d.Name != state.SourceDevice))
        {
            // Without this device: the fallback if the device is worse than its profile says.
            Offer(() => state with { Devices = [.. state.Devices.Where(d => d.Name != device.Name)], Links = [.. state.Links.Where(l => l.From != device.Name && l.To != device.Name)] });
        }
        for (var i = 0; i < state.Devices.Count; i++)
        {
            Add(new Plan(0, [new Stage(state.Devices[i].Name, 0, state.Profile.NodeCount - 1)]));
        }
        // A stable hash (string hashes are randomised per process) keeps runs reproducible from the seed.
        var random = new Random(Options.Seed ^ BitConverter.ToInt32(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key))));
        for (var i = 0; i < Options.RandomPerturbations; i++)
        {
            double Factor() => Math.Exp(Options.PerturbationSigma * Gaussian(random));
            Offer(() => state with
            {
                Devices = [.. state.Devices.Select(d => d with { RelativeSpeed = d.RelativeSpeed * Factor() })],
                Links = [.. state.Links.Select(l => l with { BytesPerSecond = l.BytesPerSecond * Factor() })],
            });
        }
        return arms;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>Writes the policy to <paramref name="path"/> (via a temporary file, so never half-written).</summary>
    public void Save(string path)
    {
        PolicyFile file;
        lock (_gate)
        {
            file = new PolicyFile(1, LearnedRequests, _contexts.ToDictionary(
                c => c.Key,
                c => new ContextFile(c.Value.Requests, [.. c.Value.Arms.Select(a => new ArmFile([.. a.Stages], a.Prior, a.Count, a.Mean))])));
        }
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temp, JsonSerializer.Serialize(file, PolicyJson.Default.PolicyFile));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Replaces the policy with the one saved at <paramref name="path"/>.</summary>
    public void Load(string path)
    {
        PolicyFile? file;
        try
        {
            file = JsonSerializer.Deserialize(File.ReadAllText(path), PolicyJson.Default.PolicyFile);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new EdgeSplit.Graph.BadInputException($"cannot read RL policy '{path}': {e.Message}; delete it to start cold", e);
        }
        if (file is null || file.Version != 1) throw new EdgeSplit.Graph.BadInputException($"'{path}' is not an EdgeSplit RL policy (version 1); delete it to start cold");
        lock (_gate)
        {
            _contexts.Clear();
            foreach (var (key, context) in file.Contexts)
            {
                _contexts[key] = new ContextPolicy
                {
                    Requests = context.Requests,
                    Arms = [.. context.Arms.Select(a => new Arm(a.Stages, a.Prior) { Count = a.Count, Mean = a.Mean, PriorWeight = Options.PriorWeight })],
                };
            }
            LearnedRequests = file.LearnedRequests;
            _seen.Clear();
            foreach (var group in _contexts.Values.SelectMany(c => c.Arms).Where(a => a.Count > 0).GroupBy(a => a.Signature))
            {
                var count = group.Sum(a => a.Count);
                _seen[group.Key] = (count, group.Sum(a => a.Count * a.Mean) / count);
            }
        }
    }

    private sealed class ContextPolicy
    {
        public long Requests;
        public List<Arm> Arms = [];
    }

    private sealed class Arm(IReadOnlyList<Stage> stages, double prior)
    {
        public IReadOnlyList<Stage> Stages { get; } = stages;
        public string Signature { get; } = new Plan(0, stages).Signature();
        public double Prior { get; set; } = prior;
        public long Count { get; set; }
        public double Mean { get; set; }

        /// <summary>The model's prediction worth <see cref="PriorWeight"/> observations, blended with what was observed.</summary>
        public double Value => Count > 0 ? ((PriorWeight * Prior) + (Count * Mean)) / (PriorWeight + Count) : Prior;

        public double PriorWeight { get; init; }

        public bool FeasibleNow { get; set; } = true;

        /// <summary>The cost model's latency for this arm at the last refresh (NaN before one).</summary>
        public double PredictedLatencyMs { get; set; } = double.NaN;

        public Plan ToPlan() => new(0, Stages);

        public static Arm From(Plan plan, double prior, double priorWeight) => new([.. plan.Stages], prior) { PriorWeight = priorWeight };
    }
}

internal sealed record PolicyFile(int Version, long LearnedRequests, Dictionary<string, ContextFile> Contexts);

internal sealed record ContextFile(long Requests, List<ArmFile> Arms);

internal sealed record ArmFile(List<Stage> Stages, double Prior, long Count, double Mean);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(PolicyFile))]
internal sealed partial class PolicyJson : JsonSerializerContext;
