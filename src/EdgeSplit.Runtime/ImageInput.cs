using System.Runtime.InteropServices;
using EdgeSplit.Graph;
using Microsoft.ML.OnnxRuntime.Tensors;
using SkiaSharp;

namespace EdgeSplit.Runtime;

/// <summary>
/// Decodes an image file into the model's input tensor: resized to the input's height and width,
/// RGB scaled to [0, 1] then normalised with the ImageNet mean and standard deviation.
/// </summary>
public static class ImageInput
{
    private static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] Std = [0.229f, 0.224f, 0.225f];

    public static TensorData Load(string path, string inputName, long[] shape)
    {
        if (!File.Exists(path))
        {
            throw new BadInputException($"image '{path}' does not exist; check the path or use --random");
        }
        if (shape.Length != 4 || (shape[1] != 3 && shape[3] != 3))
        {
            throw new BadInputException($"input '{inputName}' has shape {string.Join('x', shape)}, not an image batch (NCHW or NHWC with 3 channels); use --random");
        }
        var channelsFirst = shape[1] == 3;
        var height = (int)(channelsFirst ? shape[2] : shape[1]);
        var width = (int)(channelsFirst ? shape[3] : shape[2]);

        using var decoded = SKBitmap.Decode(path)
            ?? throw new BadInputException($"'{path}' is not an image SkiaSharp can decode (PNG, JPEG, WebP, BMP, GIF); convert it");
        using var resized = decoded.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new BadInputException($"'{path}' could not be resized to {width}x{height}");

        var batch = (int)shape[0];
        var plane = height * width;
        var values = new float[batch * 3 * plane];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var pixel = resized.GetPixel(x, y);
                ReadOnlySpan<byte> rgb = [pixel.Red, pixel.Green, pixel.Blue];
                for (var c = 0; c < 3; c++)
                {
                    var v = ((rgb[c] / 255f) - Mean[c]) / Std[c];
                    var index = channelsFirst ? (c * plane) + (y * width) + x : (((y * width) + x) * 3) + c;
                    for (var b = 0; b < batch; b++)
                    {
                        values[(b * 3 * plane) + index] = v;
                    }
                }
            }
        }
        return new TensorData(inputName, TensorElementType.Float, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }
}
