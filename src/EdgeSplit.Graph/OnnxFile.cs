using Google.Protobuf;
using Onnx;

namespace EdgeSplit.Graph;

/// <summary>Reads an ONNX model's bytes for <see cref="OnnxModel"/>: parsed, checked to be a model, tensors in side files pulled in.</summary>
internal static class OnnxFile
{
    public static ModelProto Parse(byte[] bytes, string displayName)
    {
        if (bytes.Length == 0)
        {
            throw new BadInputException($"'{displayName}' is empty, not an ONNX model; re-export or re-download it");
        }
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new BadInputException($"'{displayName}' is not an ONNX model or is truncated ({ex.Message.TrimEnd('.')}); re-export it", ex);
        }
        Validate(model, displayName);
        return model;
    }

    public static void Validate(ModelProto model, string displayName)
    {
        if (model.Graph is null || model.IrVersion <= 0 || model.Graph.Node.Count == 0)
        {
            throw new BadInputException($"'{displayName}' is not an ONNX model (no graph or no IR version); pass a .onnx file");
        }
        if (model.Graph.Output.Count == 0)
        {
            throw new BadInputException($"'{displayName}' has no outputs; re-export the model with its outputs declared");
        }
    }

    /// <summary>Pulls tensors stored in side files into the model, so partitions are self-contained.</summary>
    public static void InlineExternalData(ModelProto model, string directory, string displayName)
    {
        foreach (var tensor in model.Graph.Initializer)
        {
            if (tensor.DataLocation != TensorProto.Types.DataLocation.External)
            {
                continue;
            }
            var entries = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
            if (!entries.TryGetValue("location", out var location))
            {
                throw new BadInputException($"'{displayName}': initializer '{tensor.Name}' has external data without a location; re-export the model");
            }
            var file = Path.Combine(directory, location);
            if (!File.Exists(file))
            {
                throw new BadInputException($"'{displayName}': external data file '{file}' for '{tensor.Name}' is missing; keep it next to the model");
            }
            var offset = entries.TryGetValue("offset", out var o) ? long.Parse(o, System.Globalization.CultureInfo.InvariantCulture) : 0;
            using var stream = File.OpenRead(file);
            var length = entries.TryGetValue("length", out var l) ? long.Parse(l, System.Globalization.CultureInfo.InvariantCulture) : stream.Length - offset;
            var data = new byte[length];
            stream.Seek(offset, SeekOrigin.Begin);
            stream.ReadExactly(data);
            tensor.RawData = UnsafeByteOperations.UnsafeWrap(data);
            tensor.ExternalData.Clear();
            tensor.DataLocation = TensorProto.Types.DataLocation.Default;
        }
    }
}
