namespace EdgeSplit.Reports.Tests;

public sealed class AtomicWriteTests
{
    [Fact]
    public void A_fill_that_throws_leaves_neither_the_report_nor_a_temp_directory()
    {
        using var temp = new TempDirectory();
        var target = Path.Combine(temp.Path, "out");

        Assert.Throws<InvalidOperationException>(() => AtomicDirectory.Write(target, dir =>
        {
            File.WriteAllText(Path.Combine(dir, "results.json"), "[");
            throw new InvalidOperationException("plot failed half-way");
        }));

        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void Bad_results_are_refused_before_anything_is_written_with_synthetic_results()
    {
        using var temp = new TempDirectory();
        var report = Synthetic.Run(durationS: 5);
        var broken = report with { Results = [report.Results[0] with { P50Ms = double.NaN }, .. report.Results.Skip(1)] };

        Assert.Throws<ArgumentException>(() => ReportWriter.Write(broken, Path.Combine(temp.Path, "out")));
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void Writing_into_a_directory_with_other_files_replaces_ours_and_keeps_theirs_with_synthetic_results()
    {
        using var temp = new TempDirectory();
        var target = Path.Combine(temp.Path, "out");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "notes.txt"), "mine");
        File.WriteAllText(Path.Combine(target, "results.json"), "stale");

        var files = ReportWriter.Write(Synthetic.Run(durationS: 5), target);

        Assert.Equal("mine", File.ReadAllText(Path.Combine(target, "notes.txt")));
        Assert.StartsWith("[", File.ReadAllText(Path.Combine(target, "results.json")));
        Assert.All(files.Files, f => Assert.True(File.Exists(Path.Combine(target, f)), f));
        Assert.Equal(["out"], Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName));
    }
}
