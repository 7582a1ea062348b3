using System.Collections.Concurrent;
using System.Security.Cryptography;
using EdgeSplit.Cluster.Contracts;
using EdgeSplit.Runtime;
using EdgeSplit.Runtime.Providers;
using Microsoft.ML.OnnxRuntime;

namespace EdgeSplit.Cluster.Agent;

/// <summary>One chunk of a partition upload; the first carries the announced hash and size.</summary>
internal readonly record struct PartitionChunk(string? Sha256, long TotalBytes, ReadOnlyMemory<byte> Data);

/// <summary>
/// Partitions on disk named by their SHA-256 (so a restarted agent or a returning plan needs no
/// upload) and their warm ORT sessions, shared by every plan version that uses them. A cached file
/// is re-hashed before it is trusted: one whose bytes no longer match its name is deleted.
/// Sessions run on the agent's execution provider; <see cref="Provider"/> says which one they really got.
/// </summary>
internal sealed class PartitionStore : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<InferenceSession>> _sessions = new(StringComparer.Ordinal);
    private readonly int _threads;
    private readonly ProviderChoice _choice;
    private ProviderUse _provider;

    /// <summary>Checks at once that <paramref name="choice"/>'s provider can be registered (or falls back, when allowed).</summary>
    /// <exception cref="ProviderUnavailableException">The provider is missing and no fallback was allowed.</exception>
    public PartitionStore(string directory, int threads, ProviderChoice choice)
    {
        _threads = threads;
        _choice = choice;
        using (OrtSessions.CreateOptions(threads, optimize: true, choice, out var used))
        {
            _provider = used;
        }
        Directory = System.IO.Directory.CreateDirectory(directory).FullName;
    }

    /// <summary>The provider the latest session really runs on (before any: the one registration gave).</summary>
    public ProviderUse Provider => Volatile.Read(ref _provider);

    public string Directory { get; }

    /// <summary>Whether a partition with this hash is cached and intact (a loaded session counts; a file is re-hashed).</summary>
    public bool Has(string sha256)
    {
        if (!IsHash(sha256))
        {
            return false;
        }
        if (_sessions.TryGetValue(sha256, out var lazy) && lazy.IsValueCreated)
        {
            return true;
        }
        return ReadVerified(sha256) is not null;
    }

    /// <summary>Receives chunks, checks size and hash, then moves the file into place atomically.</summary>
    public async Task<long> ReceiveAsync(IAsyncEnumerable<PartitionChunk> chunks, long maxBytes, CancellationToken ct)
    {
        string? expected = null;
        long total = -1, received = 0;
        var temp = Path.Combine(Directory, $".upload-{Guid.NewGuid():N}");
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await foreach (var chunk in chunks.WithCancellation(ct))
                {
                    if (expected is null)
                    {
                        expected = (chunk.Sha256 ?? "").ToLowerInvariant();
                        total = chunk.TotalBytes;
                        if (!IsHash(expected))
                        {
                            throw Bad("the first chunk must carry the partition's SHA-256 as 64 hex digits");
                        }
                        if (total <= 0 || total > maxBytes)
                        {
                            throw Bad($"partition size {total} bytes is outside 1..{maxBytes}");
                        }
                    }
                    received += chunk.Data.Length;
                    if (received > total)
                    {
                        throw Bad($"received more than the announced {total} bytes");
                    }
                    hash.AppendData(chunk.Data.Span);
                    await file.WriteAsync(chunk.Data, ct);
                }
            }
            if (expected is null)
            {
                throw Bad("no chunk received");
            }
            if (received != total)
            {
                throw Bad($"received {received} of the announced {total} bytes");
            }
            var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (actual != expected)
            {
                throw new ClusterException(FailureKind.Corrupt, $"partition bytes hash to {actual}, not the announced {expected}; upload again");
            }
            File.Move(temp, PathOf(expected), overwrite: true);
            return received;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>The warm session for a cached partition (created on first use from bytes re-hashed against its name).</summary>
    public InferenceSession Session(string sha256)
    {
        var lazy = _sessions.GetOrAdd(sha256, h => new Lazy<InferenceSession>(() =>
        {
            var bytes = ReadVerified(h) ?? throw new ClusterException(FailureKind.NotReady, $"partition {h} is not cached on this agent (or its file was corrupt and is gone); upload it with LoadPartition first");
            var session = OrtSessions.Create(bytes, _threads, _choice, out var used);
            Volatile.Write(ref _provider, used);
            return session;
        }));
        try
        {
            return lazy.Value;
        }
        catch (ProviderUnavailableException ex)
        {
            _sessions.TryRemove(sha256, out _);
            throw new ClusterException(FailureKind.NotReady, $"partition {sha256}: {ex.Message}");
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or ClusterException)
        {
            _sessions.TryRemove(sha256, out _);
            throw ex as ClusterException ?? Bad($"partition {sha256} is not a model ONNX Runtime can load: {ex.Message}");
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

    /// <summary>The cached bytes if they hash to their name; a file that does not is deleted, so it gets uploaded again.</summary>
    private byte[]? ReadVerified(string sha256)
    {
        var path = PathOf(sha256);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        if (Convert.ToHexStringLower(SHA256.HashData(bytes)) == sha256)
        {
            return bytes;
        }
        File.Delete(path);
        return null;
    }

    private string PathOf(string sha256) => Path.Combine(Directory, sha256.ToLowerInvariant() + ".onnx");

    private static bool IsHash(string text) => text.Length == 64 && text.All(c => char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c));

    private static ClusterException Bad(string message) => new(FailureKind.BadRequest, message);
}
