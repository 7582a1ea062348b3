namespace EdgeSplit.Graph;

/// <summary>
/// A place the model can be cut: between compute node <see cref="AfterNode"/> and the next one.
/// <see cref="Tensors"/> is everything alive across it, so everything a downstream device must
/// receive: one tensor in a plain chain, two or more inside a residual or inception block.
/// </summary>
public sealed record Cut(int Index, int AfterNode, string NodeName, string OpType, IReadOnlyList<string> Tensors);
