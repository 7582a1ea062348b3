using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("EdgeSplit.Runtime.Tests")]
