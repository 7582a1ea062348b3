using Google.Protobuf;

namespace EdgeSplit.Cli.Tests;

/// <summary>A temporary folder for the model files a test hands to the CLI; deleted on dispose.</summary>
internal sealed class TempModelDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("edgesplit-cli-").FullName;

    /// <summary>Writes <paramref name="proto"/> as <paramref name="name"/> and returns its path.</summary>
    public string Write(string name, Onnx.ModelProto proto)
    {
        var path = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(path, proto.ToByteArray());
        return path;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
