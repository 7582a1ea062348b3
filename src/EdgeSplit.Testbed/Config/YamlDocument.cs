using System.Globalization;
using EdgeSplit.Graph;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace EdgeSplit.Testbed.Config;

/// <summary>
/// A YAML mapping read by hand from YamlDotNet's representation model, so every error can name the
/// file, the line and the key, and say what to write instead.
/// </summary>
internal sealed class YamlMap
{
    private readonly YamlMappingNode node;
    private readonly HashSet<string> read = new(StringComparer.Ordinal);

    public YamlMap(string file, YamlMappingNode node, string path)
    {
        File = file;
        this.node = node;
        Path = path;
    }

    public string File { get; }

    public string Path { get; }

    public long Line => node.Start.Line;

    /// <summary>Parses a whole file whose root must be a mapping.</summary>
    public static YamlMap Load(string file, string what)
    {
        if (!System.IO.File.Exists(file))
        {
            throw new BadInputException($"{file}: no such {what} file; check the path");
        }
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(file);
            stream.Load(reader);
        }
        catch (YamlException ex)
        {
            throw new BadInputException($"{file}:{ex.Start.Line}: not valid YAML ({FirstLine(ex.Message)}); fix the syntax near column {ex.Start.Column}", ex);
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new BadInputException($"{file}:1: a {what} must be a YAML mapping of keys to values; see examples/ for one");
        }
        return new YamlMap(file, root, "");
    }

    public BadInputException Error(long line, string message) => new($"{File}:{line}: {message}");

    public YamlNode? Find(string key)
    {
        read.Add(key);
        return node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;
    }

    public bool Has(string key) => node.Children.ContainsKey(new YamlScalarNode(key));

    public string String(string key)
    {
        var value = Find(key) ?? throw Error(Line, $"{Name(key)} is missing; add '{key}: ...'");
        if (value is not YamlScalarNode scalar || string.IsNullOrWhiteSpace(scalar.Value))
        {
            throw Error(value.Start.Line, $"{Name(key)} must be a non-empty text value");
        }
        return scalar.Value!;
    }

    public string? OptionalString(string key) => Has(key) ? String(key) : null;

    public double Number(string key, double min, double max)
    {
        var value = Find(key) ?? throw Error(Line, $"{Name(key)} is missing; add '{key}: <number from {Fmt(min)} to {Fmt(max)}>'");
        return ParseNumber(value, Name(key), min, max);
    }

    public double? OptionalNumber(string key, double min, double max) => Has(key) ? Number(key, min, max) : null;

    public int Integer(string key, int min, int max)
    {
        var number = Number(key, min, max);
        if (number != Math.Floor(number))
        {
            throw Error(Find(key)!.Start.Line, $"{Name(key)} must be a whole number, got {Fmt(number)}");
        }
        return (int)number;
    }

    public double ParseNumber(YamlNode value, string name, double min, double max)
    {
        if (value is not YamlScalarNode scalar
            || !double.TryParse(scalar.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            || double.IsNaN(number))
        {
            throw Error(value.Start.Line, $"{name} must be a number from {Fmt(min)} to {Fmt(max)}");
        }
        if (number < min || number > max)
        {
            throw Error(value.Start.Line, $"{name} is {Fmt(number)}; use a number from {Fmt(min)} to {Fmt(max)}");
        }
        return number;
    }

    public YamlMap Map(string key)
    {
        var value = Find(key) ?? throw Error(Line, $"{Name(key)} is missing; add a '{key}:' mapping");
        return value as YamlMappingNode is { } map
            ? new YamlMap(File, map, Name(key))
            : throw Error(value.Start.Line, $"{Name(key)} must be a mapping of keys to values");
    }

    public IReadOnlyList<YamlMap> ListOfMaps(string key, bool required = true)
    {
        var value = Find(key);
        if (value is null)
        {
            return required ? throw Error(Line, $"{Name(key)} is missing; add a '{key}:' list") : [];
        }
        if (value is not YamlSequenceNode sequence)
        {
            throw Error(value.Start.Line, $"{Name(key)} must be a list ('- ...' items)");
        }
        var items = new List<YamlMap>();
        foreach (var item in sequence.Children)
        {
            if (item is not YamlMappingNode map)
            {
                throw Error(item.Start.Line, $"each item of {Name(key)} must be a mapping of keys to values");
            }
            items.Add(new YamlMap(File, map, $"{Name(key)}[{items.Count}]"));
        }
        return items;
    }

    /// <summary>
    /// A mapping of names to numbers (e.g. <c>reference_ms: {mobilenetv2: 61.9}</c>); every name must be
    /// one of <paramref name="allowed"/> so a typo is an error, not a silently ignored figure.
    /// </summary>
    public IReadOnlyDictionary<string, double> NumberMap(string key, IReadOnlyCollection<string> allowed, double min, double max)
    {
        var map = Map(key);
        var numbers = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, value) in map.node.Children)
        {
            var text = (name as YamlScalarNode)?.Value ?? "?";
            if (!allowed.Contains(text))
            {
                throw Error(name.Start.Line, $"'{text}' in {Name(key)} is not a reference model; use {string.Join(", ", allowed)}");
            }
            numbers[text] = map.ParseNumber(value, map.Name(text), min, max);
        }
        if (numbers.Count == 0)
        {
            throw Error(map.Line, $"{Name(key)} is empty; give at least one of {string.Join(", ", allowed)}");
        }
        return numbers;
    }

    public YamlSequenceNode? Sequence(string key)
    {
        var value = Find(key);
        return value switch
        {
            null => null,
            YamlSequenceNode sequence => sequence,
            _ => throw Error(value.Start.Line, $"{Name(key)} must be a list like [0, 0]"),
        };
    }

    /// <summary>Refuses keys nobody read, which are nearly always typos.</summary>
    public void RejectUnknownKeys()
    {
        foreach (var (key, value) in node.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? "?";
            if (!read.Contains(name))
            {
                throw Error(key.Start.Line, $"unknown key '{name}' in {(Path.Length == 0 ? "the document" : Path)}; known keys are: {string.Join(", ", read.Order(StringComparer.Ordinal))}");
            }
        }
    }

    public string Name(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    private static string Fmt(double value) => value.ToString("G", CultureInfo.InvariantCulture);

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
