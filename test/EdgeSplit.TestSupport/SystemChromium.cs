using PuppeteerSharp;

namespace EdgeSplit.Tests;

/// <summary>
/// Debian's Chromium (<c>/usr/bin/chromium</c>), headless, driven by PuppeteerSharp: no browser is downloaded, and the
/// flags keep it off the network (no QUIC, no background, component or sync traffic) with a fresh profile each launch.
/// </summary>
public static class SystemChromium
{
    public const string Path = "/usr/bin/chromium";

    /// <summary>Why a browser test skips where the browser is missing, and how to install it.</summary>
    public const string InstallHint = "Debian's chromium is not installed (" + Path + "); install it with: apt-get install -y chromium";

    public static bool Installed => File.Exists(Path);

    /// <summary>A headless browser with its own temporary profile, removed when the browser is disposed.</summary>
    public static async Task<Browser> LaunchAsync()
    {
        var profile = Directory.CreateTempSubdirectory("edgesplit-chromium-");
        var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = Path,
            Headless = true,
            UserDataDir = profile.FullName,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        return new Browser(browser, profile);
    }

    /// <summary>The browser and its profile folder.</summary>
    public sealed class Browser(IBrowser browser, DirectoryInfo profile) : IAsyncDisposable
    {
        public IBrowser Instance { get; } = browser;

        public Task<IPage> NewPageAsync() => Instance.NewPageAsync();

        public async ValueTask DisposeAsync()
        {
            await Instance.CloseAsync();
            await Instance.DisposeAsync();
            try
            {
                profile.Delete(recursive: true);
            }
            catch (IOException)
            {
                // A file the browser still held: the temp folder is cleaned by the OS.
            }
        }
    }
}
