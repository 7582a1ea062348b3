using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace EdgeSplit.Cluster.Transport;

/// <summary>
/// Refuses every request that lacks the shared token from its headers alone, before any of its body
/// is read or parsed: an unauthenticated client cannot make a host buffer a 60 MB message. gRPC calls
/// get a trailers-only Unauthenticated status, plain HTTP (the /metrics endpoint) a 401.
/// </summary>
public sealed class TokenGate(string token)
{
    private readonly byte[] _expected = Encoding.UTF8.GetBytes("Bearer " + token);

    public bool Allows(HttpRequest request)
    {
        var presented = request.Headers[WireLimits.TokenHeader].ToString();
        // Constant-time comparison so the token cannot be guessed byte by byte from timing.
        return presented.Length > 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), _expected);
    }

    /// <summary>Middleware: passes authenticated requests on, answers the others at once without reading their bodies.</summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (Allows(context.Request))
        {
            await next(context);
            return;
        }
        var response = context.Response;
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.Headers["grpc-status"] = "16";
            response.Headers["grpc-message"] = "missing or wrong token; pass the cluster's token";
        }
        else
        {
            response.StatusCode = StatusCodes.Status401Unauthorized;
            response.Headers.WWWAuthenticate = "Bearer";
        }
        // The body is left unread: Kestrel resets the stream and drops what arrives for it.
        await response.CompleteAsync();
    }
}
