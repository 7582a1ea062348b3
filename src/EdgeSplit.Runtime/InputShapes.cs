using System.Globalization;
using EdgeSplit.Graph;

namespace EdgeSplit.Runtime;

/// <summary>
/// Concrete shapes for a model's inputs: symbolic dimensions resolved from <c>--input-shape</c>
/// (<c>1x3x224x224</c> for a one-input model, <c>name:1x3x48x320,other:1x10</c> otherwise),
/// a symbolic batch dimension defaulting to 1.
/// </summary>
public static class InputShapes
{
    public static IReadOnlyDictionary<string, long[]> Resolve(OnnxModel model, string? spec)
    {
        var given = Parse(model, spec);
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var input in model.Inputs)
        {
            if (given.TryGetValue(input.Name, out var shape))
            {
                CheckFits(input, shape);
                shapes[input.Name] = shape;
                continue;
            }
            if (input.Shape is null)
            {
                throw new BadInputException($"input '{input.Name}' of '{model.DisplayName}' has no declared shape; give it with --input-shape {input.Name}:1x3x224x224");
            }
            var resolved = new long[input.Shape.Count];
            for (var d = 0; d < resolved.Length; d++)
            {
                var dim = input.Shape[d];
                if (dim.Value is { } v && v > 0)
                {
                    resolved[d] = v;
                }
                else if (d == 0)
                {
                    resolved[d] = 1; // an open batch dimension: one sample
                }
                else
                {
                    throw new BadInputException(
                        $"input '{input.Name}' has symbolic dimensions ({input.ShapeText}); give concrete ones with --input-shape, e.g. --input-shape {Example(input)}");
                }
            }
            shapes[input.Name] = resolved;
        }
        return shapes;
    }

    private static Dictionary<string, long[]> Parse(OnnxModel model, string? spec)
    {
        var result = new Dictionary<string, long[]>(StringComparer.Ordinal);
        if (spec is null)
        {
            return result;
        }
        if (string.IsNullOrWhiteSpace(spec))
        {
            throw new BadInputException("--input-shape is empty; give a shape such as 1x3x224x224, or leave the option out");
        }
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = part.LastIndexOf(':');
            string name;
            string dims;
            if (colon >= 0)
            {
                name = part[..colon];
                dims = part[(colon + 1)..];
                if (model.Inputs.All(i => i.Name != name))
                {
                    throw new BadInputException($"--input-shape names '{name}', but the model's inputs are {string.Join(", ", model.Inputs.Select(i => $"'{i.Name}'"))}");
                }
            }
            else
            {
                if (model.Inputs.Count != 1)
                {
                    throw new BadInputException($"the model has {model.Inputs.Count} inputs; name each: --input-shape {string.Join(',', model.Inputs.Select(Example))}");
                }
                name = model.Inputs[0].Name;
                dims = part;
            }
            if (!result.TryAdd(name, ParseDims(dims, part)))
            {
                throw new BadInputException($"--input-shape gives input '{name}' more than once; name each input once, e.g. {string.Join(',', model.Inputs.Select(Example))}");
            }
        }
        return result;
    }

    private static long[] ParseDims(string dims, string part)
    {
        var pieces = dims.Split('x', 'X', '*');
        var shape = new long[pieces.Length];
        for (var i = 0; i < pieces.Length; i++)
        {
            if (!long.TryParse(pieces[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]) || shape[i] <= 0)
            {
                throw new BadInputException($"--input-shape '{part}' is not a shape; write positive sizes joined by 'x', e.g. 1x3x224x224");
            }
        }
        return shape;
    }

    private static void CheckFits(ModelInput input, long[] shape)
    {
        if (input.Shape is null)
        {
            return;
        }
        if (input.Shape.Count != shape.Length)
        {
            throw new BadInputException(
                $"--input-shape {string.Join('x', shape)} does not fit input '{input.Name}': it has {input.Shape.Count} dimensions ({input.ShapeText}), not {shape.Length}");
        }
        for (var d = 0; d < shape.Length; d++)
        {
            if (input.Shape[d].Value is { } fixedSize && fixedSize > 0 && fixedSize != shape[d])
            {
                throw new BadInputException(
                    $"--input-shape {string.Join('x', shape)} does not fit input '{input.Name}' ({input.ShapeText}): dimension {d} is fixed at {fixedSize}");
            }
        }
    }

    private static string Example(ModelInput input)
    {
        var dims = input.Shape is null
            ? "1x3x224x224"
            : string.Join('x', input.Shape.Select((d, i) => d.Value is { } v && v > 0 ? v : i == 0 ? 1 : 224));
        return $"{input.Name}:{dims}";
    }
}
