using EdgeSplit.Graph;
using EdgeSplit.Runtime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeSplit.Evaluation.PyTorch;

/// <summary>
/// The frames file both runtimes read: whole float32 input frames, little-endian, back to back, each
/// of the model input's shape. Writing EdgeSplit's own inputs there makes the two runs see the same frames.
/// </summary>
public static class PyTorchFrames
{
    public static void Write(string path, IEnumerable<TensorData> frames)
    {
        using var file = File.Create(path);
        foreach (var frame in frames)
        {
            if (frame.ElementType != TensorElementType.Float)
            {
                throw new BadInputException($"the PyTorch runtime feeds float32 frames; '{frame.Name}' is {frame.ElementType}");
            }
            file.Write(frame.Data.Span);
        }
    }
}
