using EdgeSplit.Tests;
using Google.Protobuf;

namespace EdgeSplit.Graph.Tests;

public sealed class OnnxModelLoadingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgesplit-load-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_missing_file_is_refused_with_a_hint()
    {
        var ex = Assert.Throws<BadInputException>(() => OnnxModel.Load(Path.Combine(_dir, "nope.onnx")));
        Assert.Contains("does not exist", ex.Message);
    }

    [Fact]
    public void A_text_file_is_not_an_onnx_model()
    {
        var path = Path.Combine(_dir, "notes.onnx");
        File.WriteAllText(path, "these are not the weights you are looking for\n");

        var ex = Assert.Throws<BadInputException>(() => OnnxModel.Load(path));
        Assert.Contains("not an ONNX model", ex.Message);
    }

    [Fact]
    public void An_empty_file_is_refused()
    {
        var path = Path.Combine(_dir, "empty.onnx");
        File.WriteAllBytes(path, []);

        Assert.Throws<BadInputException>(() => OnnxModel.Load(path));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.99)]
    public void A_truncated_file_is_refused(double keep)
    {
        var bytes = TestModels.Residual().ToByteArray();
        var path = Path.Combine(_dir, "truncated.onnx");
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * keep)]);

        var ex = Assert.Throws<BadInputException>(() => OnnxModel.Load(path));
        Assert.Matches("truncated|not an ONNX model|no outputs", ex.Message);
    }

    [Fact]
    public void A_directory_is_not_a_model()
    {
        var ex = Assert.Throws<BadInputException>(() => OnnxModel.Load(_dir));
        Assert.Contains("directory", ex.Message);
    }

    [Fact]
    public void A_saved_model_loads_back_with_the_same_cuts()
    {
        var proto = TestModels.Inception();
        var path = Path.Combine(_dir, "inception.onnx");
        File.WriteAllBytes(path, proto.ToByteArray());

        var loaded = OnnxModel.Load(path);
        var built = OnnxModel.FromProto(proto, "inception");

        Assert.Equal(built.Cuts.Select(c => c.Tensors), loaded.Cuts.Select(c => c.Tensors));
    }
}
