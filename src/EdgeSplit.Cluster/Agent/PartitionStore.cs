using System.Collections.Concurrent;
using System.Security.Cryptography;
using EdgeSplit.Runtime;
using Grpc.Core;
using Microsoft.ML.OnnxRuntime;

namespace EdgeSplit.Cluster.Agent;

/// <summary>
/// Partitions on disk named by their SHA-256 (so a restarted agent or a returning plan needs no
/// upload) and their warm ORT sessions, shared by every plan version that uses them.
/// </summary>
internal sealed class PartitionStore(string directory, int threads) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<InferenceSession>> _sessions = new(StringComparer.Ordinal);

    public string Directory { get; } = System.IO.Directory.CreateDirectory(directory).FullName;

    public bool Has(string sha256) => IsHash(sha256) && File.Exists(PathOf(sha256));

    /// <summary>Receives chunks, checks size and hash, then moves the file into place atomically.</summary>
    public async Task<long> ReceiveAsync(IAsyncStreamReader<Protos.PartitionChunk> chunks, long maxBytes, CancellationToken ct)
    {
        string? expected = null;
        long total = -1, received = 0;
        var temp = Path.Combine(Directory, $".upload-{Guid.NewGuid():N}");
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                while (await chunks.MoveNext(ct))
                {
                    var chunk = chunks.Current;
                    if (expected is null)
                    {
                        expected = chunk.Sha256.ToLowerInvariant();
                        total = chunk.TotalBytes;
                        if (!IsHash(expected))
                        {
                            throw Status(StatusCode.InvalidArgument, "the first chunk must carry the partition's SHA-256 as 64 hex digits");
                        }
                        if (total <= 0 || total > maxBytes)
                        {
                            throw Status(StatusCode.InvalidArgument, $"partition size {total} bytes is outside 1..{maxBytes}");
                        }
                    }
                    received += chunk.Data.Length;
                    if (received > total)
                    {
                        throw Status(StatusCode.InvalidArgument, $"received more than the announced {total} bytes");
                    }
                    hash.AppendData(chunk.Data.Span);
                    await file.WriteAsync(chunk.Data.Memory, ct);
                }
            }
            if (expected is null)
            {
                throw Status(StatusCode.InvalidArgument, "no chunk received");
            }
            if (received != total)
            {
                throw Status(StatusCode.InvalidArgument, $"received {received} of the announced {total} bytes");
            }
            var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (actual != expected)
            {
                throw Status(StatusCode.DataLoss, $"partition bytes hash to {actual}, not the announced {expected}; upload again");
            }
            File.Move(temp, PathOf(expected), overwrite: true);
            return received;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>The warm session for a cached partition (created on first use).</summary>
    public InferenceSession Session(string sha256)
    {
        if (!Has(sha256))
        {
            throw Status(StatusCode.FailedPrecondition, $"partition {sha256} is not cached on this agent; upload it with LoadPartition first");
        }
        var lazy = _sessions.GetOrAdd(sha256, h => new Lazy<InferenceSession>(() => OrtSessions.Create(File.ReadAllBytes(PathOf(h)), threads)));
        try
        {
            return lazy.Value;
        }
        catch (OnnxRuntimeException ex)
        {
            _sessions.TryRemove(sha256, out _);
            throw Status(StatusCode.InvalidArgument, $"partition {sha256} is not a model ONNX Runtime can load: {ex.Message}");
        }
    }

    /// <summary>Closes sessions no deployed hop uses any more (the files stay cached).</summary>
    public void Release(IReadOnlySet<string> stillUsed)
    {
        foreach (var (hash, lazy) in _sessions)
        {
            if (!stillUsed.Contains(hash) && _sessions.TryRemove(hash, out _) && lazy.IsValueCreated)
            {
                lazy.Value.Dispose();
            }
        }
    }

    public void Dispose()
    {
        foreach (var lazy in _sessions.Values)
        {
            if (lazy.IsValueCreated)
            {
                lazy.Value.Dispose();
            }
        }
        _sessions.Clear();
    }

    private string PathOf(string sha256) => Path.Combine(Directory, sha256.ToLowerInvariant() + ".onnx");

    private static bool IsHash(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigit);

    private static RpcException Status(StatusCode code, string message) => new(new Grpc.Core.Status(code, message));
}
