using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("EdgeSplit.Testbed.Tests")]
