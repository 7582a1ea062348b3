using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgeSplit.Graph;

namespace EdgeSplit.Cluster.Transport;

/// <summary>
/// TLS of an agent or coordinator (<c>--tls-cert</c>, <c>--tls-key</c>, <c>--tls-ca</c>): its own certificate,
/// which it serves with and presents as a client, and the fleet CA that peers' certificates must chain to.
/// With a CA, the server requires a client certificate from that CA (mutual TLS) and clients accept only
/// servers whose certificate chains to it and names the address dialled; without one, the system's roots.
/// The token then travels inside TLS only.
/// </summary>
public sealed class TlsSettings
{
    private TlsSettings(X509Certificate2? certificate, X509Certificate2? authority)
    {
        Certificate = certificate;
        Authority = authority;
    }

    /// <summary>This side's certificate with its private key; null for a client that has none.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>The fleet CA peers must chain to; null = the system's trusted roots, and no client certificate required.</summary>
    public X509Certificate2? Authority { get; }

    /// <summary>
    /// Loads PEM files; any missing or unreadable one is a one-line <see cref="BadInputException"/>. A certificate
    /// needs its key; a client may give only the CA.
    /// </summary>
    public static TlsSettings Load(string? certificatePath, string? keyPath, string? caPath)
    {
        if ((certificatePath is null) != (keyPath is null))
        {
            throw new BadInputException("--tls-cert and --tls-key go together: give the certificate and its private key");
        }
        X509Certificate2? certificate = null;
        if (certificatePath is not null)
        {
            try
            {
                certificate = X509Certificate2.CreateFromPemFile(Existing(certificatePath, "--tls-cert"), Existing(keyPath!, "--tls-key"));
            }
            catch (CryptographicException ex)
            {
                throw new BadInputException($"--tls-cert {certificatePath} with --tls-key {keyPath}: not a PEM certificate and its matching key ({ex.Message.Trim()})", ex);
            }
        }
        X509Certificate2? authority = null;
        if (caPath is not null)
        {
            try
            {
                authority = X509CertificateLoader.LoadCertificateFromFile(Existing(caPath, "--tls-ca"));
            }
            catch (CryptographicException ex)
            {
                throw new BadInputException($"--tls-ca {caPath}: not a PEM or DER certificate ({ex.Message.Trim()})", ex);
            }
        }
        return new TlsSettings(certificate, authority);
    }

    /// <summary>Whether <paramref name="peer"/> chains to the fleet CA (or, without one, passed the system's checks).</summary>
    public bool Accepts(X509Certificate? peer, SslPolicyErrors errors)
    {
        if (peer is null)
        {
            return false;
        }
        if (Authority is null)
        {
            return errors == SslPolicyErrors.None;
        }
        // Only a broken chain is ours to judge (the fleet CA is no system root); a name mismatch stays fatal.
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var certificate = X509CertificateLoader.LoadCertificate(peer.GetRawCertData());
        return chain.Build(certificate);
    }

    /// <summary>Client-side TLS options for a channel: this side's certificate, and the peer checked against the CA.</summary>
    public SslClientAuthenticationOptions ClientOptions() => new()
    {
        ClientCertificates = Certificate is null ? null : [Certificate],
        RemoteCertificateValidationCallback = (_, peer, _, errors) => Accepts(peer, errors),
    };

    /// <summary>HTTPS on an HTTP/1 listener (metrics, dashboard) with this side's certificate and no client certificate asked for.</summary>
    public void ServeWithoutClientCertificates(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions listen) =>
        Microsoft.AspNetCore.Hosting.ListenOptionsHttpsExtensions.UseHttps(listen,
            Certificate ?? throw new BadInputException("serving TLS needs --tls-cert and --tls-key"));

    private static string Existing(string path, string option) =>
        File.Exists(path) ? path : throw new BadInputException($"{option} '{path}' does not exist; make the fleet's certificates with deploy/tls/make-fleet-ca.sh");
}
