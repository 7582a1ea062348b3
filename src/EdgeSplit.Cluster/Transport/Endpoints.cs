using System.Globalization;
using System.Net;
using EdgeSplit.Graph;

namespace EdgeSplit.Cluster.Transport;

/// <summary>Checks and normalises the addresses the cluster listens on and sends to, so a bad one is refused where it is given.</summary>
public static class Endpoints
{
    /// <summary>Parses a listen address <c>HOST:PORT</c>; HOST may be an IP, <c>localhost</c>, <c>*</c> or <c>[v6]</c>; port 0 picks a free one.</summary>
    public static IPEndPoint ParseListen(string listen)
    {
        var (host, port) = Split(listen, "a listen address", allowPortZero: true);
        IPAddress address;
        if (host is "*" or "0.0.0.0")
        {
            address = IPAddress.Any;
        }
        else if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(host, out address!))
        {
            throw new BadInputException($"'{host}' in '{listen}' is not an IP address; listen on an address of this machine (e.g. 127.0.0.1 or 0.0.0.0)");
        }
        return new IPEndPoint(address, port);
    }

    /// <summary>A bound endpoint as <c>host:port</c> others can dial (the wildcard becomes loopback).</summary>
    public static string Format(IPEndPoint bound)
    {
        var host = bound.Address.Equals(IPAddress.Any) ? "127.0.0.1" : bound.Address.Equals(IPAddress.IPv6Any) ? "[::1]"
            : bound.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{bound.Address}]" : bound.Address.ToString();
        return string.Create(CultureInfo.InvariantCulture, $"{host}:{bound.Port}");
    }

    /// <summary>
    /// The <c>http://host:port</c> URI of a peer given as <c>host:port</c> (or already as a URI); throws
    /// <see cref="BadInputException"/> naming what is wrong when it is not one a channel can be opened to.
    /// </summary>
    public static string PeerUri(string address)
    {
        var (host, port) = Split(address, "an address", allowPortZero: false);
        if (host.Contains(':', StringComparison.Ordinal))
        {
            host = $"[{host}]";
        }
        return string.Create(CultureInfo.InvariantCulture, $"http://{host}:{port}");
    }

    /// <summary>Whether <paramref name="address"/> is a usable peer address.</summary>
    public static bool IsPeer(string? address)
    {
        if (string.IsNullOrWhiteSpace(address))
        {
            return false;
        }
        try
        {
            PeerUri(address);
            return true;
        }
        catch (BadInputException)
        {
            return false;
        }
    }

    private static (string Host, int Port) Split(string text, string what, bool allowPortZero)
    {
        var trimmed = (text ?? "").Trim();
        if (trimmed.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            trimmed = trimmed["http://".Length..].TrimEnd('/');
        }
        var colon = trimmed.LastIndexOf(':');
        var host = colon > 0 ? trimmed[..colon].Trim('[', ']') : "";
        var portText = colon >= 0 ? trimmed[(colon + 1)..] : "";
        if (host.Length == 0 || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535 || (port == 0 && !allowPortZero))
        {
            throw new BadInputException($"'{text}' is not {what} of the form HOST:PORT with a port 1..65535; write e.g. 127.0.0.1:5001");
        }
        if (host != "*" && Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            throw new BadInputException($"'{host}' in '{text}' is not a host name or IP address; write e.g. 127.0.0.1:5001");
        }
        return (host, port);
    }
}
