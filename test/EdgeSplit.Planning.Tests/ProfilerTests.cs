using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using EdgeSplit.Tests;

namespace EdgeSplit.Planning.Tests;

public class ProfilerTests
{
    private static (OnnxModel Model, IReadOnlyList<TensorData> Inputs) Residual()
    {
        var model = OnnxModel.FromProto(TestModels.Residual(), "residual");
        return (model, RandomInputs.Create(model, InputShapes.Resolve(model, null), seed: 1));
    }

    private static readonly ProfilerOptions Quick = new(WarmupRuns: 1, TimedRuns: 3, ProfiledRuns: 2);

    [Fact]
    public void Node_times_cover_every_node_and_add_up_to_each_measured_segment()
    {
        var (model, inputs) = Residual();
        var profile = Profiler.Measure(model, [2, 6], inputs, "test-host", Quick);

        Assert.Equal(model.Nodes.Count, profile.NodeMs.Count);
        Assert.Equal(3, profile.Segments.Count);
        Assert.All(profile.NodeMs, ms => Assert.True(ms >= 0));
        foreach (var segment in profile.Segments)
        {
            Assert.True(segment.MedianMs > 0);
            Assert.Equal(segment.MedianMs, profile.SegmentMs(segment.FirstNode, segment.LastNode), 9);
        }
        // ORT's per-node trace was used: times inside a segment are not an even spread.
        var first = profile.Segments[^1];
        Assert.True(Enumerable.Range(first.FirstNode, first.LastNode - first.FirstNode + 1).Select(i => profile.NodeMs[i]).Distinct().Count() > 1);
        Assert.Equal(Profiler.ModelSha256(model), profile.ModelSha256);
    }

    [Fact]
    public void A_measured_profile_feeds_the_planner()
    {
        var (model, inputs) = Residual();
        var timing = Profiler.Measure(model, [], inputs, "test-host", Quick);
        var cuts = CutProfiler.Measure(model, inputs, 1, out var facts);
        var profile = Profiler.BuildSegmentProfile(model, timing, cuts, facts);

        Assert.Equal(cuts.Select(c => c.Bytes), profile.CutBytes);
        Assert.Equal(inputs.Sum(i => i.ByteCount), profile.InputBytes);
        var weightBytes = model.Proto.Graph.Initializer.Sum(t => (long)t.RawData.Length + (t.FloatData.Count * 4));
        Assert.Equal(weightBytes + cuts.Sum(c => c.Bytes) + profile.OutputBytes, profile.NodeMemoryBytes.Sum());

        var state = new PlanningState(
            [new DeviceSpec("here", 1, 1, 1L << 30, Scenarios.PiPower), new DeviceSpec("there", 4, 1, 1L << 30, Scenarios.LaptopPower)],
            PlanningState.FullMesh(["here", "there"], 1e6, 1), profile, "here");
        var plan = new OptimalPlanner(new CostModel()).Plan(state, Objective.Latency);
        Assert.Equal(model.Nodes.Count - 1, plan.Stages[^1].LastNode);
    }

    [Fact]
    public void Stored_profiles_are_reused_and_replaced_when_they_drift()
    {
        var (model, inputs) = Residual();
        var directory = Directory.CreateTempSubdirectory("edgesplit-profiles-");
        try
        {
            var store = new ProfileStore(directory.FullName);
            var sha = Profiler.ModelSha256(model);
            var measurements = 0;
            NodeTimingProfile Measure()
            {
                measurements++;
                return Profiler.Measure(model, [3], inputs, "pi4-emulated", Quick);
            }

            var first = store.GetOrMeasure(sha, "pi4-emulated", Measure);
            var again = store.GetOrMeasure(sha, "pi4-emulated", Measure);
            Assert.Equal(1, measurements);
            Assert.Equal(first.NodeMs, again.NodeMs);
            Assert.Null(store.TryLoad(sha, "jetson-emulated"));

            var steady = first.Segments.Select(s => s with { MedianMs = s.MedianMs * 1.05 });
            Assert.Same(again, store.RefreshIfDrifted(again, steady, Measure));
            Assert.Equal(1, measurements);

            var slower = first.Segments.Select(s => s with { MedianMs = s.MedianMs * 3 });
            store.RefreshIfDrifted(again, slower, Measure);
            Assert.Equal(2, measurements);
            Assert.Single(Directory.GetFiles(directory.FullName));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_damaged_stored_profile_is_a_cache_miss()
    {
        var directory = Directory.CreateTempSubdirectory("edgesplit-profiles-");
        try
        {
            var store = new ProfileStore(directory.FullName);
            File.WriteAllText(store.PathFor("abc", "pi"), "{ truncated");
            Assert.Null(store.TryLoad("abc", "pi"));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
