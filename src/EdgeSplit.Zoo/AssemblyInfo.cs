using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("EdgeSplit.Zoo.Tests")]
