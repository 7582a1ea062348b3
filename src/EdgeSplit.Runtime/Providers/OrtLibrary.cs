using System.Reflection;
using System.Runtime.InteropServices;
using EdgeSplit.Graph;
using Microsoft.ML.OnnxRuntime;

namespace EdgeSplit.Runtime.Providers;

/// <summary>
/// Loads the native ONNX Runtime from a given file instead of the one packaged with EdgeSplit:
/// JetPack's build on a Jetson (CUDA and TensorRT for its GPU), or any build with the EPs a board
/// needs. Must run before anything in the process touches ONNX Runtime.
/// </summary>
public static class OrtLibrary
{
    /// <summary>Names the library when no <c>--ort-library</c> is given.</summary>
    public const string EnvironmentVariable = "EDGESPLIT_ORT_LIBRARY";

    private const string ImportName = "onnxruntime";
    private static readonly Lock Gate = new();
    private static nint _handle;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nint OrtGetApiBase();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate nint OrtGetVersionString();

    /// <summary>The file given to <see cref="Use"/>, or null when the packaged library is used.</summary>
    public static string? RequestedPath { get; private set; }

    /// <summary>
    /// Makes ONNX Runtime's bindings load <paramref name="path"/>. Checks first that the file
    /// loads, exports ONNX Runtime's C API and is not older than the bindings (whose C API
    /// version it must serve): each failure is a one-line <see cref="BadInputException"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime was already loaded in this process.</exception>
    public static void Use(string path)
    {
        var full = Path.GetFullPath(path);
        lock (Gate)
        {
            if (RequestedPath == full)
            {
                return;
            }
            if (RequestedPath is not null)
            {
                throw new InvalidOperationException($"ONNX Runtime is already loaded from {RequestedPath}");
            }
            var handle = Load(full);
            try
            {
                CheckVersion(full, handle);
                // ORT installs its own resolver when its bindings first run; ours must come first, and alone.
                OrtEnv.DisableDllImportResolver = true;
                NativeLibrary.SetDllImportResolver(typeof(OrtEnv).Assembly, Resolve);
            }
            catch (InvalidOperationException ex)
            {
                NativeLibrary.Free(handle);
                throw new InvalidOperationException("ONNX Runtime was already loaded in this process; choose its library before any ONNX Runtime call", ex);
            }
            catch
            {
                NativeLibrary.Free(handle);
                throw;
            }
            _handle = handle;
            RequestedPath = full;
        }
    }

    /// <summary>The version of the loaded native ONNX Runtime (loads it if nothing has yet).</summary>
    public static string Version => OrtEnv.Instance().GetVersionString();

    /// <summary>
    /// The file the native ONNX Runtime was really mapped from in this process, read from
    /// <c>/proc/self/maps</c>; null before it is loaded or where that file does not exist.
    /// </summary>
    public static string? MappedPath()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
        {
            return null;
        }
        foreach (var line in File.ReadLines(maps))
        {
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                continue;
            }
            var file = line[slash..];
            var name = Path.GetFileName(file);
            if (name.StartsWith("libonnxruntime", StringComparison.Ordinal) && !name.StartsWith("libonnxruntime_providers", StringComparison.Ordinal))
            {
                return file;
            }
        }
        return null;
    }

    private static nint Load(string full)
    {
        if (!File.Exists(full))
        {
            throw new BadInputException($"--ort-library: {full} does not exist; give the path of a libonnxruntime.so (e.g. JetPack's, or one from an ONNX Runtime release)");
        }
        try
        {
            return NativeLibrary.Load(full);
        }
        catch (DllNotFoundException ex)
        {
            // .NET's message ends with dlerror's line, the one that says why (wrong ELF class, missing libcudart...).
            var reason = ex.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? ex.Message;
            throw new BadInputException($"--ort-library: {full} cannot be loaded: {reason}", ex);
        }
    }

    private static void CheckVersion(string full, nint handle)
    {
        if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out var getApiBase))
        {
            throw new BadInputException($"--ort-library: {full} is not an ONNX Runtime library (it has no OrtGetApiBase)");
        }
        // OrtApiBase is { GetApi, GetVersionString }: two function pointers.
        var apiBase = Marshal.GetDelegateForFunctionPointer<OrtGetApiBase>(getApiBase)();
        var getVersion = Marshal.ReadIntPtr(apiBase, IntPtr.Size);
        var text = Marshal.PtrToStringUTF8(Marshal.GetDelegateForFunctionPointer<OrtGetVersionString>(getVersion)()) ?? "";
        var bindings = typeof(OrtEnv).Assembly.GetName().Version ?? new System.Version(0, 0);
        if (!System.Version.TryParse(text.Split('-', '+')[0], out var native) || (native.Major, native.Minor).CompareTo((bindings.Major, bindings.Minor)) < 0)
        {
            throw new BadInputException(
                $"--ort-library: {full} is ONNX Runtime {text}, older than the {bindings.Major}.{bindings.Minor} that EdgeSplit's bindings need " +
                "(ONNX Runtime serves older bindings, not newer ones); use a build of that version or later");
        }
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == ImportName ? _handle : 0;
}
