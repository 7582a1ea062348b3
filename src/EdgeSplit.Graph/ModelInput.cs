using Onnx;

namespace EdgeSplit.Graph;

/// <summary>One dimension of a declared shape: a fixed size, a symbol such as <c>batch</c>, or unknown.</summary>
public sealed record Dim(long? Value, string? Symbol)
{
    public bool IsFixed => Value is not null;

    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Symbol ?? "?";
}

/// <summary>A real model input (not an initializer listed as an input by an old exporter).</summary>
public sealed record ModelInput(string Name, TensorProto.Types.DataType ElementType, IReadOnlyList<Dim>? Shape)
{
    public bool HasSymbolicDims => Shape is null || Shape.Any(d => !d.IsFixed);

    public string ShapeText => Shape is null ? "unknown" : string.Join('x', Shape);
}
