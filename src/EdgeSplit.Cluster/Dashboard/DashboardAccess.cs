using System.Security.Cryptography;
using System.Text;
using EdgeSplit.Cluster.Transport;
using Microsoft.AspNetCore.Http;

namespace EdgeSplit.Cluster.Dashboard;

/// <summary>
/// The dashboard's door when the cluster has a token. A browser cannot send <c>Authorization</c> headers on a page
/// load or an EventSource, so besides the header (for curl) it takes the token once as <c>?token=</c> (from the
/// login form the refused page shows), answers with a cookie and sends the browser back to the same address
/// without the token. The cookie holds an HMAC of the token, not the token: cookies are shared by every port of a
/// host, and this one opens only the dashboard. Everything else gets 401 and not a byte of the cluster's state.
/// </summary>
internal sealed class DashboardAccess
{
    private readonly string? _token;
    private readonly TokenGate? _header;
    private readonly string _cookieValue = "";

    public DashboardAccess(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return;
        }
        _token = token;
        _header = new TokenGate(token);
        _cookieValue = Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), "edgesplit dashboard"u8));
    }

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (_header is null || _header.Allows(context.Request) || Matches(context.Request.Cookies[CookieName(context)], _cookieValue))
        {
            await next(context);
            return;
        }
        var presented = context.Request.Query["token"];
        if (presented.Count == 1 && Matches(presented[0], _token!))
        {
            context.Response.Cookies.Append(CookieName(context), _cookieValue, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", IsEssential = true });
            // The token leaves the address bar and the history at once.
            context.Response.Redirect(context.Request.PathBase + context.Request.Path);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        if (context.Request.Path.Value is "/" or "/index.html")
        {
            context.Response.ContentType = "text/html; charset=utf-8";
            await context.Response.WriteAsync(LoginPage(wrong: presented.Count > 0));
        }
    }

    /// <summary>One cookie per dashboard port, so two coordinators on one host do not overwrite each other's.</summary>
    private static string CookieName(HttpContext context) => $"edgesplit-dashboard-{context.Connection.LocalPort}";

    private static bool Matches(string? presented, string expected) =>
        !string.IsNullOrEmpty(presented) && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));

    private static string LoginPage(bool wrong) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>EdgeSplit dashboard: token needed</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>body{font:15px system-ui,sans-serif;margin:4em auto;max-width:28em;color:#222}input{font:inherit;padding:.3em;width:100%;box-sizing:border-box;margin:.5em 0}button{font:inherit;padding:.3em 1em}.wrong{color:#b00}</style>
        </head><body>
        <h1>EdgeSplit dashboard</h1>
        <p>This coordinator runs with a token. Give the cluster's token (what <code>--token-file</code> or <code>EDGESPLIT_TOKEN</code> holds) to watch it.</p>
        {{(wrong ? "<p class=\"wrong\" id=\"wrong\">That token is wrong.</p>" : "")}}
        <form method="get" action="/"><input type="password" name="token" id="token" autocomplete="current-password" autofocus placeholder="token"><button type="submit">Open</button></form>
        </body></html>
        """;
}
