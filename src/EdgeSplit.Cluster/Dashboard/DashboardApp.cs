using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using EdgeSplit.Cluster.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;

namespace EdgeSplit.Cluster.Dashboard;

/// <summary>
/// The dashboard's HTTP/1.1 pipeline, on the coordinator's own Kestrel (<c>serve --dashboard</c>) or on a
/// <see cref="DashboardServer"/>: read-only, behind the token when there is one; the page and uPlot come from
/// this assembly's resources (no CDN), <c>/events</c> streams a <see cref="DashboardFrame"/> every
/// <see cref="Interval"/> as Server-Sent Events, <c>/api/frame</c> answers one.
/// </summary>
internal static class DashboardApp
{
    /// <summary>
    /// How often the page gets a frame: twice a second reads as live to a person, and at 4 Hz one open page cost the
    /// coordinator 1.6-2.4 % of a core over its own (bench/EdgeSplit.Bench.Dashboard).
    /// </summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    /// <summary>Streams open at once; more are refused with 503 so that browsers left open cannot load the coordinator.</summary>
    public const int MaxStreams = 16;

    public static void Configure(IApplicationBuilder app, DashboardFeed feed, string? token, TimeProvider time)
    {
        var files = new EmbeddedFileProvider(typeof(DashboardApp).Assembly, "EdgeSplit.Cluster.Dashboard.wwwroot");
        var stopping = app.ApplicationServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        var streams = new Streams(feed, time, stopping);
        app.Use(Guard);
        app.Use(new DashboardAccess(token).InvokeAsync);
        app.Use((context, next) =>
        {
            if (context.Request.Path.Value is "/" or "")
            {
                context.Request.Path = "/index.html";
            }
            return next(context);
        });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            // Revalidated by ETag on every load, so a rebuilt binary's page is never mixed with a cached script.
            OnPrepareResponse = c => c.Context.Response.Headers.CacheControl = "no-cache",
        });
        app.Run(streams.HandleAsync);
    }

    /// <summary>Headers every answer carries (scripts and data from this origin only, no framing, no referrer), and read-only: GET and HEAD only.</summary>
    private static Task Guard(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            headers.Allow = "GET, HEAD";
            return Task.CompletedTask;
        }
        return next(context);
    }

    /// <summary>The event stream and the one-frame endpoint.</summary>
    private sealed class Streams(DashboardFeed feed, TimeProvider time, CancellationToken stopping)
    {
        private int _open;

        public async Task HandleAsync(HttpContext context)
        {
            switch (context.Request.Path.Value)
            {
                case "/events":
                    await StreamAsync(context);
                    break;
                case "/api/frame":
                    context.Response.Headers.CacheControl = "no-store";
                    await context.Response.WriteAsJsonAsync(Frame(DashboardFrames.Cursor.None), context.RequestAborted);
                    break;
                default:
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    break;
            }
        }

        private async Task StreamAsync(HttpContext context)
        {
            if (Interlocked.Increment(ref _open) > MaxStreams)
            {
                Interlocked.Decrement(ref _open);
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return;
            }
            // A page left open must not hold the host's shutdown: the stream ends when the host stops.
            using var ends = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
            try
            {
                await TypedResults.ServerSentEvents(FramesAsync(ends.Token)).ExecuteAsync(context);
            }
            catch (OperationCanceledException) when (ends.IsCancellationRequested)
            {
            }
            finally
            {
                Interlocked.Decrement(ref _open);
            }
        }

        private async IAsyncEnumerable<SseItem<DashboardFrame>> FramesAsync([EnumeratorCancellation] CancellationToken ct)
        {
            using var timer = new PeriodicTimer(Interval, time);
            var sent = DashboardFrames.Cursor.None;
            do
            {
                var frame = Frame(sent);
                sent = sent.After(frame);
                yield return new SseItem<DashboardFrame>(frame, "frame");
            }
            while (await timer.WaitForNextTickAsync(ct));
        }

        /// <summary>The frame now, for a page that has got <paramref name="sent"/>.</summary>
        private DashboardFrame Frame(DashboardFrames.Cursor sent)
        {
            var following = feed.Current;
            if (following is null)
            {
                return DashboardFrames.Idle(time.GetUtcNow(), feed.Label);
            }
            CoordinatorStatus status;
            try
            {
                status = following.Status();
            }
            catch (ObjectDisposedException)
            {
                return DashboardFrames.Idle(time.GetUtcNow(), feed.Label);
            }
            return DashboardFrames.Build(status, following.Time.GetUtcNow(), feed.Label, following.Generation, sent);
        }
    }
}
