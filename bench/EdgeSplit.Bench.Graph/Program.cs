using System.Diagnostics;
using EdgeSplit.Graph;
using EdgeSplit.Zoo;
using Google.Protobuf;

// Times parsing and partition extraction on a zoo model: parse once, then extract a partition
// repeatedly (after warm-up, so JIT time is excluded) and print the median and worst times.
var name = args.Length > 0 ? args[0] : "mobilenetv2";
var repeats = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30;

var bytes = ModelZoo.Build(name).ToByteArray();
var parse = Stopwatch.StartNew();
var model = OnnxModel.Parse(bytes, name);
var cuts = model.Cuts;
parse.Stop();

var partitioner = new Partitioner(model);
var middle = cuts.Count / 2;
Console.WriteLine($"{name}: {model.Nodes.Count} nodes, {cuts.Count} cuts, {bytes.Length / 1e6:F1} MB");
Console.WriteLine($"parse + index + cuts: {parse.Elapsed.TotalMilliseconds:F1} ms (first call, includes JIT)");
Time("first half", 0, 0, middle);
Time("second half", 1, middle + 1, model.Nodes.Count - 1);
Time("whole model", 0, 0, model.Nodes.Count - 1);

void Time(string label, int index, int first, int last)
{
    var times = new List<double>();
    Partition? partition = null;
    for (var i = 0; i < repeats + 5; i++)
    {
        var start = Stopwatch.GetTimestamp();
        partition = partitioner.Extract(index, first, last);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (i >= 5)
        {
            times.Add(elapsed); // the first five runs warm the JIT
        }
    }
    times.Sort();
    Console.WriteLine($"extract {label} (nodes {first}..{last}, {partition!.OnnxBytes.Length / 1e6:F2} MB serialized): median {times[times.Count / 2]:F2} ms, max {times[^1]:F2} ms over {times.Count} runs");
}
