using EdgeSplit.Graph;

namespace EdgeSplit.Cluster.Contracts;

/// <summary>Device names: plain words, so one can name a cache folder and a plan stage without escaping anything.</summary>
public static class DeviceName
{
    /// <summary>Returns <paramref name="name"/> if it is 1-64 letters, digits, '.', '_' or '-' and not '.' or '..'; throws <see cref="BadInputException"/> otherwise.</summary>
    public static string Check(string? name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 64 || name is "." or ".." || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new BadInputException($"device name '{name}' is not a plain name; use 1-64 letters, digits, '.', '_' or '-' (not '.' or '..')");
        }
        return name;
    }
}
