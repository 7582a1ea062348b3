using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("EdgeSplit.Cluster.Tests")]
