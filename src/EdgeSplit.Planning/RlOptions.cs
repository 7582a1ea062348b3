namespace EdgeSplit.Planning;

/// <summary>
/// Options of <see cref="RlPlanner"/>. Exploration at the n-th request of a context is
/// max(<paramref name="MinExploration"/>, <paramref name="InitialExploration"/> / (1 + n / <paramref name="ExplorationHalfLifeRequests"/>)).
/// </summary>
/// <param name="InitialExploration">Probability of trying a random candidate at a context's first request.</param>
/// <param name="MinExploration">Exploration never decays below this.</param>
/// <param name="ExplorationHalfLifeRequests">Requests in a context after which exploration has halved.</param>
/// <param name="RandomPerturbations">Extra candidate plans from the DP under randomly perturbed cost models.</param>
/// <param name="PerturbationSigma">Standard deviation of the log-normal factor applied to speeds and bandwidths.</param>
/// <param name="MinLearningRate">Floor of the step size, so old rewards fade if conditions drift within a context.</param>
/// <param name="MaxArms">Candidate plans kept per context.</param>
/// <param name="CpuLevels">CPU availability levels of the context (4 = quarters).</param>
/// <param name="Seed">Seed of exploration and perturbations, for reproducible runs.</param>
/// <param name="RuleOutAfter">Observations after which a clearly worse arm is mostly left out of exploration.</param>
/// <param name="RuleOutMargin">How much worse than the best (relative) an arm must be to be left out.</param>
/// <param name="PriorWeight">How many observations the cost model's prediction of an arm is worth.</param>
/// <param name="ExploreSlack">
/// Safe exploration: an arm is explored only if the cost model predicts it within (1 + slack) x e^(2 x error) of the
/// best predicted arm, where error is the model's observed mean |ln(observed / predicted)| (0 until it has seen a
/// request). The bound widens only as far as the model has been seen to be wrong: a plan it predicts far worse
/// than the best is never tried unless its predictions have been that far off.
/// </param>
/// <param name="ErrorSmoothing">Weight of each new observation in the running mean of the model's error.</param>
/// <param name="DeadlineMs">When set, an arm is explored only if its predicted latency meets this deadline.</param>
public sealed record RlOptions(
    double InitialExploration = 0.3,
    double MinExploration = 0.02,
    double ExplorationHalfLifeRequests = 30,
    int RandomPerturbations = 6,
    double PerturbationSigma = 0.7,
    double MinLearningRate = 0.05,
    int MaxArms = 16,
    int CpuLevels = 4,
    int Seed = 1,
    int RuleOutAfter = 3,
    double RuleOutMargin = 0.5,
    double PriorWeight = 5,
    double ExploreSlack = 0.25,
    double ErrorSmoothing = 0.1,
    double? DeadlineMs = null);
