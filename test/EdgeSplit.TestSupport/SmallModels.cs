namespace EdgeSplit.Tests;

/// <summary>
/// The tiny graphs the cluster tests serve (input <c>x</c> of 1x<see cref="Channels"/>x<see cref="Size"/>x<see cref="Size"/>,
/// output <c>y</c>), built with <see cref="TestGraph"/>: a residual block, an inception-style block and a chain.
/// </summary>
public static class SmallModels
{
    public const int Channels = 4, Size = 8;

    /// <summary>x, conv, relu, conv, add(x), relu, conv, relu: 7 nodes; cuts inside the block carry two tensors.</summary>
    public static byte[] Residual(int seed = 1)
    {
        var g = new TestGraph(seed: seed);
        var x = g.Input("x", 1, Channels, Size, Size);
        var h = g.Relu(g.Conv(x, Channels, Channels));
        h = g.Conv(h, Channels, Channels);
        h = g.Relu(g.Op("Add", [x, h]));
        h = g.Conv(h, Channels, Channels, kernel: 1);
        g.Output(g.OpNamed("y", "Relu", [h]), 1, Channels, Size, Size);
        return g.Bytes();
    }

    /// <summary>Three branches from x concatenated (a cut across the branches carries up to four tensors): 8 nodes.</summary>
    public static byte[] Inception(int seed = 2)
    {
        var g = new TestGraph(seed: seed);
        var x = g.Input("x", 1, Channels, Size, Size);
        var a = g.Conv(x, Channels, 2, kernel: 1);
        var b = g.Conv(g.Relu(g.Conv(x, Channels, 2, kernel: 1)), 2, 2);
        var c = g.Conv(x, Channels, 2);
        var joined = g.Relu(g.Op("Concat", [a, b, c], TestGraph.IntAttr("axis", 1)));
        var y = g.OpNamed("y", "Conv", [joined, g.Weight(Channels, 6, 1, 1), g.Weight(Channels)]);
        g.Output(y, 1, Channels, Size, Size);
        return g.Bytes();
    }

    /// <summary>A chain of <paramref name="nodes"/> alternating 1x1 convolutions and relus on a wide feature map.</summary>
    public static byte[] Chain(int nodes, int channels, int size, int seed = 3)
    {
        var g = new TestGraph(seed: seed);
        var previous = g.Input("x", 1, channels, size, size);
        for (var i = 0; i < nodes; i++)
        {
            var last = i == nodes - 1;
            previous = i % 2 == 0
                ? (last ? g.OpNamed("y", "Conv", [previous, g.Weight(channels, channels, 1, 1), g.Weight(channels)]) : g.Conv(previous, channels, channels, kernel: 1))
                : (last ? g.OpNamed("y", "Relu", [previous]) : g.Relu(previous));
        }
        g.Output(previous, 1, channels, size, size);
        return g.Bytes();
    }
}
