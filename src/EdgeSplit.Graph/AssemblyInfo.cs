using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("EdgeSplit.Graph.Tests")]
