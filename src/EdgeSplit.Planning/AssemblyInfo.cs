using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("EdgeSplit.Planning.Tests")]
