using Xunit.Abstractions;

namespace EdgeSplit.Planning.Tests;

/// <summary>
/// Test double: serves requests at the true costs of a state that differs from what the planners
/// are told, with log-normal noise on every measurement. It stands in for the testbed, which
/// cannot run inside a unit test.
/// </summary>
internal sealed class SimulatedEnvironment(PlanningState truth, int seed, double noiseSigma = 0.1)
{
    private readonly CostModel _exact = new(correctionEnabled: false);
    private readonly Random _random = new(seed);

    public PlanningState Truth { get; } = truth;

    public PlanEstimate Expected(Plan plan) => _exact.Estimate(Truth, plan);

    /// <summary>Serves one request: the observed latency, energy, stage times and hops.</summary>
    public (double LatencyMs, double EnergyJ, double[] StageMs, HopObservation[] Hops) Serve(Plan plan)
    {
        var expected = Expected(plan);
        var stages = expected.StageComputeMs.Select(ms => ms * Noise()).ToArray();
        var hops = expected.Hops.Select(h => new HopObservation(h.From, h.To, h.Bytes, h.Ms * Noise())).ToArray();
        return (stages.Sum() + hops.Sum(h => h.ObservedMs), expected.EnergyJ * Noise(), stages, hops);
    }

    private double Noise()
    {
        var gaussian = Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble());
        return Math.Exp(noiseSigma * gaussian);
    }
}

public class RlPlannerTests(ITestOutputHelper output)
{
    private const int Requests = 600;
    private const int Evaluated = 200;

    /// <summary>The planners believe the Jetson is the fastest device; in truth it is the slowest.</summary>
    private static (PlanningState Believed, PlanningState Truth) MiscalibratedJetson()
    {
        // A 2 MB/s uplink from the Pi and fast-shrinking activations make it worth keeping the early layers local.
        var believed = Scenarios.EdgeTrio(40, shrinkPerNode: 0.8)
            .WithDevice("jetson", d => d with { RelativeSpeed = 8 })
            .WithLinksOf("pi", l => l.From == "pi" ? l with { BytesPerSecond = 2_000_000 } : l);
        return (believed, believed.WithDevice("jetson", d => d with { RelativeSpeed = 0.6 }));
    }

    /// <summary>Observed rewards and the true expected cost of the plan chosen, per request.</summary>
    private static (double[] Rewards, double[] ExpectedCost) RunOptimal(PlanningState believed, SimulatedEnvironment environment, CostModel model, Objective objective)
    {
        var planner = new OptimalPlanner(model);
        var rewards = new double[Requests];
        var expected = new double[Requests];
        for (var i = 0; i < Requests; i++)
        {
            var plan = planner.Plan(believed, objective);
            var served = environment.Serve(plan);
            model.Observe(believed, plan, served.StageMs, served.Hops);
            rewards[i] = RlPlanner.Reward(objective, served.LatencyMs, served.EnergyJ);
            expected[i] = environment.Expected(plan).Value(objective);
        }
        return (rewards, expected);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(100.0)]
    public void Rl_beats_optimal_on_a_miscalibrated_device_with_correction_off_in_a_simulated_environment(double lambdaMsPerJoule)
    {
        var (believed, truth) = MiscalibratedJetson();
        // Reward = -(latency + lambda x energy); lambda 0 is the latency objective.
        var objective = lambdaMsPerJoule == 0 ? Objective.Latency : Objective.Weighted(lambdaMsPerJoule);
        var optimalRewards = RunOptimal(believed, new SimulatedEnvironment(truth, seed: 1), new CostModel(correctionEnabled: false), objective).Rewards;

        var rl = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(Seed: 3));
        var environment = new SimulatedEnvironment(truth, seed: 2);
        var rewards = new double[Requests];
        var exploitChoices = new string[Requests];
        for (var i = 0; i < Requests; i++)
        {
            var plan = rl.Plan(believed, objective);
            var served = environment.Serve(plan);
            rl.Learn(believed, plan, objective, served.LatencyMs, served.EnergyJ);
            rewards[i] = RlPlanner.Reward(objective, served.LatencyMs, served.EnergyJ);
            exploitChoices[i] = rl.Exploit(believed, objective).Signature();
        }

        // Converged = from this request on, the learner's own choice is truly within 2 % of the best
        // candidate (closer arms are indistinguishable under 10 % noise in a few hundred requests).
        var candidates = rl.Candidates(believed, objective);
        var trueValue = candidates.ToDictionary(p => p.Signature(), p => environment.Expected(p).Value(objective));
        var best = trueValue.Values.Min();
        var convergedAt = Array.FindLastIndex(exploitChoices, c => trueValue[c] > best * 1.02) + 1;
        var rlMean = rewards[^Evaluated..].Average();
        var optimalMean = optimalRewards[^Evaluated..].Average();
        output.WriteLine($"optimal (believes the Jetson is fast): {new OptimalPlanner(new CostModel()).Plan(believed, objective)}");
        output.WriteLine($"rl learned: {rl.Exploit(believed, objective)} among {candidates.Count} candidates:");
        foreach (var c in candidates) output.WriteLine($"  {c}: believed {new CostModel().Estimate(believed, c).Value(objective):F1}, true {environment.Expected(c).Value(objective):F1} ({objective.Kind}, lower is better)");
        output.WriteLine($"mean reward over the last {Evaluated} requests: rl {rlMean:F2}, optimal {optimalMean:F2} (= -(latency ms + {lambdaMsPerJoule} x energy J))");
        output.WriteLine($"rl converged (its choice within 2 % of the best candidate from then on) after {convergedAt} requests");

        Assert.True(convergedAt < Requests - Evaluated, $"rl had not converged before the evaluated window (request {convergedAt})");
        Assert.True(rlMean > optimalMean, $"rl {rlMean:F2} <= optimal {optimalMean:F2}");
    }

    [Fact]
    public void With_correction_on_optimal_learns_the_truth_too_and_rl_keeps_up_in_a_simulated_environment()
    {
        var (believed, truth) = MiscalibratedJetson();
        var objective = Objective.Latency;
        var optimalExpected = RunOptimal(believed, new SimulatedEnvironment(truth, seed: 1), new CostModel(correctionEnabled: true), objective).ExpectedCost;

        var model = new CostModel(correctionEnabled: true);
        var rl = new RlPlanner(model, new RlOptions(Seed: 3));
        var environment = new SimulatedEnvironment(truth, seed: 2);
        var expected = new double[Requests];
        for (var i = 0; i < Requests; i++)
        {
            var plan = rl.Plan(believed, objective);
            var served = environment.Serve(plan);
            model.Observe(believed, plan, served.StageMs, served.Hops);
            rl.Learn(believed, plan, objective, served.LatencyMs, served.EnergyJ);
            expected[i] = environment.Expected(plan).LatencyMs;
        }
        output.WriteLine($"rl's own choice at the end: {rl.Exploit(believed, objective)} = {environment.Expected(rl.Exploit(believed, objective)).LatencyMs:F1} ms (true)");
        // Compared on the true expected latency of the plans chosen, so measurement noise does not decide.
        var rlMs = expected[^Evaluated..].Average();
        var optimalMs = optimalExpected[^Evaluated..].Average();
        output.WriteLine($"true expected latency of the plans chosen over the last {Evaluated} requests: rl {rlMs:F2} ms, self-correcting optimal {optimalMs:F2} ms");
        // Exploration costs rl a little: within 5 % of the self-correcting optimal.
        Assert.True(rlMs <= optimalMs * 1.05, $"rl {rlMs:F2} ms is more than 5 % slower than optimal {optimalMs:F2} ms");
    }

    [Fact]
    public void What_a_placement_earned_in_one_context_carries_into_the_next_in_a_simulated_environment()
    {
        var (believed, truth) = MiscalibratedJetson();
        var objective = Objective.Latency;
        var learner = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(Seed: 3));
        var environment = new SimulatedEnvironment(truth, seed: 8);
        for (var i = 0; i < 200; i++)
        {
            var plan = learner.Plan(believed, objective);
            var served = environment.Serve(plan);
            learner.Learn(believed, plan, objective, served.LatencyMs, served.EnergyJ);
        }
        // The laptop's measured CPU drops a level: a new context for the learner, one the cost model
        // alone answers with the same (wrong) Jetson-heavy favourite as before.
        var changed = believed.WithDevice("laptop", d => d with { CpuAvailability = 0.3 });
        var model = new OptimalPlanner(new CostModel(correctionEnabled: false));
        Assert.NotEqual(learner.ContextKey(believed, objective), learner.ContextKey(changed, objective));
        var modelsChoice = model.Plan(changed, objective);
        Assert.True(modelsChoice.SamePlacement(model.Plan(believed, objective)));
        var learnedChoice = learner.Exploit(changed, objective);

        Assert.False(learnedChoice.SamePlacement(modelsChoice), $"learner still trusts the model: {learnedChoice}");
        Assert.True(environment.Expected(learnedChoice).LatencyMs < environment.Expected(modelsChoice).LatencyMs);
    }

    [Fact]
    public void A_saved_policy_makes_a_new_learner_start_warm()
    {
        var (believed, truth) = MiscalibratedJetson();
        var objective = Objective.Latency;
        var trained = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(Seed: 5));
        var environment = new SimulatedEnvironment(truth, seed: 4);
        for (var i = 0; i < 300; i++)
        {
            var plan = trained.Plan(believed, objective);
            var served = environment.Serve(plan);
            trained.Learn(believed, plan, objective, served.LatencyMs, served.EnergyJ);
        }
        var directory = Directory.CreateTempSubdirectory("edgesplit-rl-");
        try
        {
            var path = Path.Combine(directory.FullName, "policy.json");
            trained.Save(path);
            var cold = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(InitialExploration: 0, MinExploration: 0));
            var coldChoice = cold.Plan(believed, objective);
            var warm = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(InitialExploration: 0, MinExploration: 0));
            warm.Load(path);
            Assert.True(warm.Plan(believed, objective).SamePlacement(trained.Exploit(believed, objective)));
            Assert.False(coldChoice.SamePlacement(trained.Exploit(believed, objective)));
            Assert.True(environment.Expected(warm.Plan(believed, objective)).LatencyMs < environment.Expected(coldChoice).LatencyMs);
            Assert.Equal(trained.LearnedRequests, warm.LearnedRequests);
            Assert.Single(Directory.GetFiles(directory.FullName));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Rl_never_serves_a_learned_plan_that_no_longer_fits_in_memory()
    {
        var (believed, truth) = MiscalibratedJetson();
        var rl = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(Seed: 9));
        var environment = new SimulatedEnvironment(truth, seed: 9);
        for (var i = 0; i < 100; i++)
        {
            var plan = rl.Plan(believed, Objective.Latency);
            var served = environment.Serve(plan);
            rl.Learn(believed, plan, Objective.Latency, served.LatencyMs, served.EnergyJ);
        }
        var learned = rl.Exploit(believed, Objective.Latency);
        var device = learned.Stages[^1].Device;
        // Same context (budgets are not part of it), but the learned plan's last device is now too small.
        var squeezed = believed.WithDevice(device, d => d with { MemoryBudgetBytes = 1_000 });
        var model = new CostModel(correctionEnabled: false);
        Assert.False(model.Estimate(squeezed, learned).Feasible);
        for (var i = 0; i < 50; i++)
        {
            Assert.True(model.Estimate(squeezed, rl.Plan(squeezed, Objective.Latency)).Feasible);
        }
    }

    [Fact]
    public void A_corrupt_policy_file_is_bad_input()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "{ not json");
            Assert.Throws<EdgeSplit.Graph.BadInputException>(() => new RlPlanner(new CostModel()).Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Choose_says_when_it_explored_and_otherwise_gives_the_exploited_plan()
    {
        var (believed, _) = MiscalibratedJetson();
        var never = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(InitialExploration: 0, MinExploration: 0, Seed: 3));
        Assert.All(Enumerable.Range(0, 20), _ => Assert.False(never.Choose(believed, Objective.Latency).Explored));

        var always = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(InitialExploration: 1, MinExploration: 1, Seed: 3));
        var choices = Enumerable.Range(0, 40).Select(_ => always.Choose(believed, Objective.Latency)).ToList();
        var best = always.Exploit(believed, Objective.Latency);
        Assert.Contains(choices, c => c.Explored);
        Assert.All(choices.Where(c => c.Explored), c => Assert.False(c.Plan.SamePlacement(best)));
        Assert.All(choices.Where(c => !c.Explored), c => Assert.True(c.Plan.SamePlacement(best)));
    }

    [Fact]
    public void Exploration_never_tries_a_plan_predicted_beyond_the_bound_of_the_best()
    {
        // The model is right (truth = belief), so its error stays small and the bound near 1 + slack.
        var state = MiscalibratedJetson().Believed;
        var objective = Objective.Latency;
        var model = new CostModel(correctionEnabled: false);
        var rl = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(InitialExploration: 1, MinExploration: 1, Seed: 5));
        var environment = new SimulatedEnvironment(state, seed: 4, noiseSigma: 0.05);
        var predicted = rl.Candidates(state, objective).ToDictionary(p => p.Signature(), p => model.Estimate(state, p).LatencyMs);
        var best = predicted.Values.Min();
        output.WriteLine("candidates (predicted / best): " + string.Join(", ", predicted.Values.Order().Select(ms => (ms / best).ToString("F2"))));
        // The test can fail: some candidates lie far beyond any bound the run reaches.
        Assert.True(predicted.Values.Count(ms => ms > best * 1.5) >= 2, "no candidate lies beyond the bound: the test could not fail");

        var explored = new HashSet<string>();
        for (var i = 0; i < 400; i++)
        {
            var bound = rl.ExplorationBound;
            var (plan, wasExplored) = rl.Choose(state, objective);
            var ms = model.Estimate(state, plan).LatencyMs;
            if (wasExplored)
            {
                explored.Add(plan.Signature());
                Assert.True(ms <= (best * bound) + 1e-6, $"explored {plan} predicted {ms:F1} ms, beyond {bound:F2}x the best {best:F1} ms");
            }
            var served = environment.Serve(plan);
            rl.Learn(state, plan, objective, served.LatencyMs, served.EnergyJ);
        }
        output.WriteLine($"bound {rl.ExplorationBound:F2}x (observed error {rl.ObservedError:P1}); explored {explored.Count} of {predicted.Count} candidates");
        Assert.True(rl.ObservedError < 0.1, $"the model is right, yet its observed error is {rl.ObservedError:P1}");
        Assert.NotEmpty(explored);
        Assert.True(explored.Count < predicted.Count, "every candidate was explored: the bound kept none out");
    }

    [Fact]
    public void The_exploration_bound_widens_only_with_the_cost_models_observed_error()
    {
        var state = MiscalibratedJetson().Believed;
        var objective = Objective.Latency;
        var model = new CostModel(correctionEnabled: false);
        var rl = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(Seed: 5));
        var candidates = rl.Candidates(state, objective);
        var predicted = candidates.ToDictionary(p => p.Signature(), p => model.Estimate(state, p).LatencyMs);
        var best = predicted.Values.Min();
        var bestPlan = candidates.First(p => predicted[p.Signature()] == best);
        var far = candidates.Where(p => predicted[p.Signature()] is var ms && ms > best * 2 && ms < best * 8).OrderBy(p => predicted[p.Signature()]).First();

        Assert.Equal(1 + rl.Options.ExploreSlack, rl.ExplorationBound, 6);
        Assert.DoesNotContain(rl.SafeToExplore(state, objective), p => p.SamePlacement(far));

        // Served exactly as predicted: no error, the bound stays where it was.
        for (var i = 0; i < 20; i++) rl.Learn(state, bestPlan, objective, best, 0);
        Assert.Equal(1 + rl.Options.ExploreSlack, rl.ExplorationBound, 6);
        Assert.DoesNotContain(rl.SafeToExplore(state, objective), p => p.SamePlacement(far));

        // The best predicted plan takes 3x its prediction: the model is that wrong, so plans that far off become worth a try.
        for (var i = 0; i < 40; i++) rl.Learn(state, bestPlan, objective, best * 3, 0);
        output.WriteLine($"after 3x errors: observed error {rl.ObservedError:P0}, bound {rl.ExplorationBound:F2}x; far plan predicted {predicted[far.Signature()] / best:F2}x the best");
        Assert.InRange(rl.ObservedError, 1.5, 2.0);
        Assert.True(rl.ExplorationBound > predicted[far.Signature()] / best);
        Assert.Contains(rl.SafeToExplore(state, objective), p => p.SamePlacement(far));
    }

    [Fact]
    public void When_no_plan_keeps_up_with_the_camera_the_bound_applies_to_the_slowest_stage()
    {
        // A frame every 20 ms: no plan of MiscalibratedJetson keeps up, so every cost carries the saturation penalty.
        var state = MiscalibratedJetson().Believed;
        var camera = Objective.Latency with { FrameIntervalMs = 20 };
        var model = new CostModel(correctionEnabled: false);
        var rl = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(Seed: 5));
        var candidates = rl.Candidates(state, camera);
        var bottleneck = candidates.ToDictionary(p => p.Signature(), p => model.Estimate(state, p).BottleneckMs);
        Assert.All(bottleneck.Values, ms => Assert.True(ms > 20));
        var best = bottleneck.Values.Min();
        var far = candidates.Where(p => bottleneck[p.Signature()] > best * 2).ToList();
        Assert.NotEmpty(far);

        // The penalty is the same for all of them; within 1.25x of the best slowest stage, not of the penalty.
        var safe = rl.SafeToExplore(state, camera);
        Assert.Contains(safe, p => bottleneck[p.Signature()] == best);
        Assert.DoesNotContain(safe, p => far.Any(f => f.SamePlacement(p)));
    }

    [Fact]
    public void Exploration_never_tries_a_plan_predicted_to_miss_the_deadline()
    {
        var state = MiscalibratedJetson().Believed;
        var objective = Objective.Latency;
        var model = new CostModel(correctionEnabled: false);
        var open = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(ExploreSlack: 100, Seed: 5));
        var safe = open.SafeToExplore(state, objective).Select(p => model.Estimate(state, p).LatencyMs).Order().ToList();
        Assert.True(safe.Count >= 3);
        var deadline = safe[safe.Count / 2];

        var bounded = new RlPlanner(new CostModel(correctionEnabled: false), new RlOptions(ExploreSlack: 100, Seed: 5, DeadlineMs: deadline));
        var within = bounded.SafeToExplore(state, objective).Select(p => model.Estimate(state, p).LatencyMs).ToList();
        Assert.All(within, ms => Assert.True(ms <= deadline + 1e-9, $"{ms:F1} ms explored past the {deadline:F1} ms deadline"));
        Assert.Equal(safe.Count(ms => ms <= deadline + 1e-9), within.Count);
    }
}
