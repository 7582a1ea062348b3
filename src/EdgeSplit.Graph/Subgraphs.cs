using Onnx;

namespace EdgeSplit.Graph;

/// <summary>The graphs inside a node's attributes (If, Loop, Scan bodies) and what they read from the graph around them.</summary>
internal static class Subgraphs
{
    /// <summary>The subgraphs <paramref name="attr"/> holds.</summary>
    public static IEnumerable<GraphProto> Of(AttributeProto attr)
    {
        if (attr.G is not null)
        {
            yield return attr.G;
        }
        foreach (var g in attr.Graphs)
        {
            yield return g;
        }
    }

    /// <summary>Names a subgraph reads but does not define: they come from the enclosing graph.</summary>
    public static IEnumerable<string> OuterScopeNames(GraphProto graph)
    {
        var defined = new HashSet<string>(StringComparer.Ordinal);
        defined.UnionWith(graph.Input.Select(i => i.Name));
        defined.UnionWith(graph.Initializer.Select(i => i.Name));
        foreach (var node in graph.Node)
        {
            defined.UnionWith(node.Output);
        }
        foreach (var node in graph.Node)
        {
            foreach (var input in node.Input)
            {
                if (input.Length > 0 && !defined.Contains(input))
                {
                    yield return input;
                }
            }
            foreach (var nested in node.Attribute.SelectMany(Of).SelectMany(OuterScopeNames))
            {
                if (!defined.Contains(nested))
                {
                    yield return nested;
                }
            }
        }
    }
}
