using Onnx;

namespace EdgeSplit.Graph.Tiling;

/// <summary>Reads and writes node attributes by name, with ONNX's defaults.</summary>
internal static class NodeAttributes
{
    public static AttributeProto? Find(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    public static long Int(NodeProto node, string name, long fallback) => Find(node, name) is { } a ? a.I : fallback;

    public static long[]? Ints(NodeProto node, string name) => Find(node, name) is { } a ? [.. a.Ints] : null;

    public static string Text(NodeProto node, string name, string fallback) => Find(node, name) is { } a ? a.S.ToStringUtf8() : fallback;

    public static void SetInts(NodeProto node, string name, params long[] values)
    {
        Remove(node, name);
        var attr = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attr.Ints.AddRange(values);
        node.Attribute.Add(attr);
    }

    public static void SetInt(NodeProto node, string name, long value)
    {
        Remove(node, name);
        node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });
    }

    public static void Remove(NodeProto node, string name)
    {
        for (var i = node.Attribute.Count - 1; i >= 0; i--)
        {
            if (node.Attribute[i].Name == name)
            {
                node.Attribute.RemoveAt(i);
            }
        }
    }
}
