using System.Text.RegularExpressions;
using EdgeSplit.Graph;

namespace EdgeSplit.Runtime.Providers;

/// <summary>
/// An ONNX Runtime execution provider, by name, with its options: <c>cpu</c>, <c>cuda</c>,
/// <c>tensorrt</c>, or any other EP that ONNX Runtime registers by name (<c>xnnpack</c>,
/// <c>openvino</c>, <c>qnn</c>...; ORT's own name, e.g. <c>XnnpackExecutionProvider</c>, works too).
/// Options are ONNX Runtime's own keys for that EP (<c>device_id=0</c>, <c>trt_fp16_enable=1</c>).
/// </summary>
public sealed partial record ExecutionProvider
{
    /// <summary>Short names (what <see cref="Name"/> holds) and ONNX Runtime's names of the EPs it knows by name.</summary>
    private static readonly (string Name, string OrtName)[] Known =
    [
        ("cpu", "CPUExecutionProvider"),
        ("cuda", "CUDAExecutionProvider"),
        ("tensorrt", "TensorrtExecutionProvider"),
        ("xnnpack", "XnnpackExecutionProvider"),
        ("openvino", "OpenVINOExecutionProvider"),
        ("qnn", "QNNExecutionProvider"),
        ("snpe", "SNPEExecutionProvider"),
        ("coreml", "CoreMLExecutionProvider"),
        ("dml", "DmlExecutionProvider"),
        ("webgpu", "WebGpuExecutionProvider"),
        ("migraphx", "MIGraphXExecutionProvider"),
        ("vitisai", "VitisAIExecutionProvider"),
        ("nvtensorrtrtx", "NvTensorRTRTXExecutionProvider"),
        ("azure", "AzureExecutionProvider"),
    ];

    private ExecutionProvider(string name, string ortName, IReadOnlyDictionary<string, string> options)
    {
        Name = name;
        OrtName = ortName;
        Options = options;
    }

    /// <summary>The CPU EP ONNX Runtime always has.</summary>
    public static ExecutionProvider Cpu { get; } = new("cpu", "CPUExecutionProvider", new Dictionary<string, string>());

    /// <summary>Lower-case short name for the EPs listed above (<c>cuda</c>), else the name as given.</summary>
    public string Name { get; }

    /// <summary>ONNX Runtime's name (<c>CUDAExecutionProvider</c>), as <c>GetAvailableProviders</c> lists it.</summary>
    public string OrtName { get; }

    public IReadOnlyDictionary<string, string> Options { get; }

    public bool IsCpu => Name == "cpu";

    /// <summary>
    /// <paramref name="name"/> and <c>key=value</c> options; bad syntax, a repeated key, or options
    /// for <c>cpu</c> (which takes none) are a <see cref="BadInputException"/>.
    /// </summary>
    public static ExecutionProvider Parse(string name, IEnumerable<string>? options = null)
    {
        name = name.Trim();
        if (!NamePattern().IsMatch(name))
        {
            throw new BadInputException($"--provider must be an execution provider's name (cpu, cuda, tensorrt, xnnpack, openvino...), got '{name}'");
        }
        var (shortName, ortName) = Known.FirstOrDefault(k =>
            string.Equals(k.Name, name, StringComparison.OrdinalIgnoreCase) || string.Equals(k.OrtName, name, StringComparison.OrdinalIgnoreCase));
        shortName ??= name;
        ortName ??= name;
        var parsed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var option in options ?? [])
        {
            var equals = option.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new BadInputException($"--provider-option must be KEY=VALUE (ONNX Runtime's option for {shortName}), got '{option}'");
            }
            var key = option[..equals].Trim();
            if (!parsed.TryAdd(key, option[(equals + 1)..].Trim()))
            {
                throw new BadInputException($"--provider-option {key} is given twice");
            }
        }
        if (shortName == "cpu" && parsed.Count > 0)
        {
            throw new BadInputException($"the cpu provider takes no options, got {string.Join(", ", parsed.Keys)}");
        }
        return new ExecutionProvider(shortName, ortName, parsed);
    }

    /// <summary><c>cuda</c>, or <c>cuda(device_id=0)</c> with options.</summary>
    public override string ToString() =>
        Options.Count == 0 ? Name : $"{Name}({string.Join(",", Options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}"))})";

    public bool Equals(ExecutionProvider? other) => other is not null && ToString() == other.ToString();

    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_]*$")]
    private static partial Regex NamePattern();
}
