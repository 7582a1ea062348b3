using EdgeSplit.Graph;
using EdgeSplit.Runtime.Providers;

namespace EdgeSplit.Runtime;

/// <summary>How one cut compared: the largest absolute difference over every model output.</summary>
public sealed record CutCheck(int Cut, double MaxAbsDiff, double Tolerance, bool Passed);

/// <summary>The outcome of <see cref="Verifier.Verify"/>.</summary>
public sealed record VerifyReport(int CutsChecked, double MaxAbsDiff, IReadOnlyList<CutCheck> Checks)
{
    /// <summary>The provider the monolithic reference session really ran on (the partitions' sessions are created alike).</summary>
    public ProviderUse Provider { get; init; } = ProviderUse.Cpu;

    public bool Passed => Checks.All(c => c.Passed);
}

/// <summary>
/// The proof that partitioning is lossless: for each cut, the two partitions chained give the
/// monolithic output within 1e-4 (scaled by the output's magnitude when it exceeds 1).
/// </summary>
public static class Verifier
{
    public const double AbsoluteTolerance = 1e-4;

    /// <summary>Picks <paramref name="count"/> cuts spread evenly over the model (all when count is null or larger).</summary>
    public static IReadOnlyList<int> SpreadCuts(OnnxModel model, int? count)
    {
        var total = model.Cuts.Count;
        if (count is null || count >= total)
        {
            return [.. Enumerable.Range(0, total)];
        }
        if (count <= 0)
        {
            throw new BadInputException($"--cuts must be 'all' or a positive number, got {count}");
        }
        return [.. Enumerable.Range(0, count.Value).Select(i => (int)((i + 0.5) * total / count.Value)).Distinct()];
    }

    public static VerifyReport Verify(
        OnnxModel model,
        IReadOnlyList<int> cuts,
        IReadOnlyList<TensorData> inputs,
        int intraOpThreads,
        Func<TensorData, TensorData>? onHop = null,
        IReadOnlyDictionary<string, Onnx.TensorProto.Types.DataType>? measuredTypes = null,
        Action<CutCheck>? progress = null,
        CancellationToken cancellation = default,
        ProviderChoice? provider = null)
    {
        IReadOnlyList<TensorData> reference;
        ProviderUse used;
        using (var whole = new ModelSession(Google.Protobuf.MessageExtensions.ToByteArray(model.Proto), intraOpThreads, provider))
        {
            reference = whole.Run(inputs);
            used = whole.Provider;
        }
        var partitioner = new Partitioner(model, measuredTypes);
        var checks = new List<CutCheck>(cuts.Count);
        foreach (var cut in cuts)
        {
            cancellation.ThrowIfCancellationRequested();
            using var chain = new ChainRunner(partitioner.Split([cut]), intraOpThreads, provider);
            var chained = chain.Run(inputs, onHop).ToDictionary(t => t.Name, StringComparer.Ordinal);
            var check = Compare(cut, reference, chained);
            checks.Add(check);
            progress?.Invoke(check);
        }
        return new VerifyReport(checks.Count, checks.Count == 0 ? 0 : checks.Max(c => c.MaxAbsDiff), checks) { Provider = used };
    }

    /// <summary>Compares every reference output with its chained twin.</summary>
    public static CutCheck Compare(int cut, IReadOnlyList<TensorData> reference, IReadOnlyDictionary<string, TensorData> actual)
    {
        var worst = 0.0;
        var passed = true;
        var tolerance = AbsoluteTolerance;
        foreach (var expected in reference)
        {
            if (!actual.TryGetValue(expected.Name, out var got) || !got.Shape.SequenceEqual(expected.Shape))
            {
                return new CutCheck(cut, double.PositiveInfinity, tolerance, false);
            }
            var a = expected.ToDoubles();
            var b = got.ToDoubles();
            var magnitude = a.Length == 0 ? 0 : a.Max(Math.Abs);
            var outputTolerance = AbsoluteTolerance * Math.Max(1.0, magnitude);
            var diff = 0.0;
            for (var i = 0; i < a.Length; i++)
            {
                var d = Math.Abs(a[i] - b[i]);
                if (double.IsNaN(d))
                {
                    d = double.IsNaN(a[i]) && double.IsNaN(b[i]) ? 0 : double.PositiveInfinity;
                }
                diff = Math.Max(diff, d);
            }
            passed &= diff <= outputTolerance;
            worst = Math.Max(worst, diff);
            tolerance = Math.Max(tolerance, outputTolerance);
        }
        return new CutCheck(cut, worst, tolerance, passed);
    }
}
