//! [`ClientIp`]: the caller's address, from the connection, and from forwarding headers only
//! when the connection comes from a proxy you trust.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Extensions, HeaderMap, HeaderName, Request};
use ipnet::IpNet;
use tower_layer::Layer;
use tower_service::Service;

/// The address of the connection's peer, for servers that are neither axum nor tonic: insert
/// it into the request's extensions and every policy will find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The peer's IP from the request's extensions: [`PeerAddr`], else axum's
/// `ConnectInfo<SocketAddr>` (feature `axum`), else tonic's `TcpConnectInfo` (feature `tonic`).
/// IPv4-mapped IPv6 is returned as IPv4.
pub fn peer_ip(extensions: &Extensions) -> Option<IpAddr> {
    if let Some(PeerAddr(addr)) = extensions.get::<PeerAddr>() {
        return Some(addr.ip().to_canonical());
    }
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0.ip().to_canonical());
    }
    #[cfg(feature = "tonic")]
    if let Some(addr) = extensions.get::<tonic::transport::server::TcpConnectInfo>().and_then(|info| info.remote_addr())
    {
        return Some(addr.ip().to_canonical());
    }
    None
}

/// The client's address, as resolved by [`ClientIpLayer`] (or taken from the peer when no
/// such layer ran). Policies read it with [`ClientIp::from_extensions`].
///
/// With the `axum` feature a handler takes it as an argument, read as
/// [`from_extensions`](Self::from_extensions) reads it: a client behind a trusted proxy that
/// could not be resolved ([`UnresolvedClient`]) is refused with 403, never answered with the
/// proxy's address; an unknown peer is a 500 naming what to add. `Option<ClientIp>` takes
/// both as `None`.
///
/// ```
/// # #[cfg(feature = "axum")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, StatusCode};
/// use tollgate_core::{ClientIp, ClientIpLayer, PeerAddr};
/// use tower::ServiceExt;
///
/// async fn whoami(client: ClientIp) -> String {
///     client.ip().to_string()
/// }
///
/// let layer = ClientIpLayer::new().trust_proxies(["10.0.0.0/8"]).unwrap();
/// let app = Router::new().route("/", get(whoami)).layer(layer);
/// // what `axum::serve` with `into_make_service_with_connect_info::<SocketAddr>()` gives
/// let from_proxy = |forwarded_for: &str| {
///     let mut req = Request::get("/").header("x-forwarded-for", forwarded_for).body(Body::empty()).unwrap();
///     req.extensions_mut().insert(PeerAddr("10.0.0.2:4000".parse().unwrap()));
///     req
/// };
///
/// let response = app.clone().oneshot(from_proxy("203.0.113.7")).await.unwrap();
/// let body = axum::body::to_bytes(response.into_body(), 64).await.unwrap();
/// assert_eq!(body, "203.0.113.7");
///
/// // the proxy's hop cannot be read: refused, not answered with the proxy's address
/// let response = app.oneshot(from_proxy("unknown")).await.unwrap();
/// assert_eq!(response.status(), StatusCode::FORBIDDEN);
/// # }
/// # #[cfg(not(feature = "axum"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp {
    ip: IpAddr,
    peer: IpAddr,
    peer_trusted: bool,
}

impl ClientIp {
    /// A client address seen directly, with no proxy in between.
    pub fn direct(ip: IpAddr) -> Self {
        let ip = ip.to_canonical();
        Self { ip, peer: ip, peer_trusted: false }
    }

    /// The client's address (IPv4-mapped IPv6 normalised to IPv4).
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The connection's peer address (the nearest proxy when there is one).
    pub fn peer(&self) -> IpAddr {
        self.peer
    }

    /// Whether the peer is a configured trusted proxy, so that its forwarding headers were
    /// believed.
    pub fn peer_is_trusted_proxy(&self) -> bool {
        self.peer_trusted
    }

    /// The client address for this request: what [`ClientIpLayer`] resolved, else the peer
    /// address ([`peer_ip`]). `None` when neither is known, and when a [`ClientIpLayer`]
    /// found the client behind a trusted proxy but could not read it ([`UnresolvedClient`]):
    /// then the peer is that proxy, and answering with its address would let any client
    /// pass as the proxy.
    pub fn from_extensions(extensions: &Extensions) -> Option<Self> {
        if let Some(ip) = extensions.get::<Self>() {
            return Some(*ip);
        }
        if extensions.get::<UnresolvedClient>().is_some() {
            return None;
        }
        peer_ip(extensions).map(Self::direct)
    }
}

/// Put in a request's extensions by [`ClientIpLayer`] when the peer is a trusted proxy and
/// the forwarding hop that would name the client cannot be read (`unknown`, obfuscated, not
/// an address, not UTF-8, or inside a broken quoted string). [`ClientIp::from_extensions`]
/// then answers `None`, and every policy that needs the client's address refuses the request
/// (`IpUnresolved`) instead of reading the proxy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnresolvedClient {
    /// The trusted proxy the request came through.
    pub peer: IpAddr,
}

/// A list of proxy networks whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// A bad entry in a list of networks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {position} ({entry:?}) is not an IP address or CIDR network")]
pub struct BadNetwork {
    /// The offending entry.
    pub entry: String,
    /// Its 1-based position in the list.
    pub position: usize,
}

impl TrustedProxies {
    /// No proxy is trusted: forwarding headers are never read. The default.
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts these networks; entries are IPs or CIDRs (`10.0.0.0/8`, `::1`).
    pub fn new<I, T>(entries: I) -> Result<Self, BadNetwork>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let nets = entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                parse_network(e.as_ref()).ok_or_else(|| BadNetwork { entry: e.as_ref().to_owned(), position: i + 1 })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { nets })
    }

    /// Whether `ip` lies in a trusted network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

/// Parses an IP (as a host network: `/32` or `/128`) or a CIDR network, with host bits
/// cleared (`10.0.0.1/8` is `10.0.0.0/8`); IPv4-mapped IPv6 becomes IPv4. `None` for
/// anything else. Every tollgate list of addresses is read with it.
///
/// ```
/// use tollgate_core::parse_network;
///
/// assert_eq!(parse_network("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
/// assert_eq!(parse_network("::ffff:192.0.2.1").unwrap().to_string(), "192.0.2.1/32");
/// assert!(parse_network("10.0.0.0/33").is_none());
/// ```
pub fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    let net = if text.contains('/') { text.parse::<IpNet>().ok()? } else { IpNet::from(text.parse::<IpAddr>().ok()?) };
    Some(canonical_network(net))
}

/// A network with host bits cleared; one inside `::ffff:0:0/96` becomes the IPv4 network it
/// maps. IPv6 networks stay IPv6 otherwise, even one wide enough to span the mapped block.
pub fn canonical_network(net: IpNet) -> IpNet {
    let net = net.trunc();
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).map_or(net, |n| n.trunc()),
            None => net,
        },
        other => other,
    }
}

/// The forwarding header a trusted proxy writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the default).
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"`.
    Forwarded,
    /// `X-Real-IP: client` (one address, written by the nearest proxy).
    XRealIp,
}

impl ForwardingHeader {
    fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            Self::Forwarded => http::header::FORWARDED,
            Self::XRealIp => HeaderName::from_static("x-real-ip"),
        }
    }
}

/// One hop of a forwarding chain: its address, or `None` when it is `unknown`, obfuscated or
/// unparseable.
pub type Hop = Option<IpAddr>;

/// Parses one `X-Forwarded-For` value into its hops, left to right. Entries may carry a
/// port (`1.2.3.4:80`, `[::1]:80`) or brackets. The value is read as bytes, hop by hop: a
/// client's own entry that is not UTF-8 (`\xff`) is one unknown hop and does not hide the
/// hops a proxy appended after it.
pub fn parse_x_forwarded_for(value: impl AsRef<[u8]>) -> Vec<Hop> {
    value.as_ref().split(|&b| b == b',').map(|node| std::str::from_utf8(node).ok().and_then(parse_node)).collect()
}

/// Parses one RFC 7239 `Forwarded` value into the `for=` hops of its elements, left to right.
/// An element without `for=`, or with `unknown` or an obfuscated identifier, is an unknown
/// hop; a malformed element is too. A quoted string left open swallows everything after it
/// (a proxy's appended element included), so such a value is one unknown hop: no address in
/// it can be told apart from the client's text.
pub fn parse_forwarded(value: impl AsRef<[u8]>) -> Vec<Hop> {
    let Some(elements) = split_outside_quotes(value.as_ref(), b',') else { return vec![None] };
    elements
        .into_iter()
        .map(|element| {
            let mut hop = None;
            // an element's own quotes were balanced, or the split above would have failed
            for pair in split_outside_quotes(element, b';').unwrap_or_default() {
                let Some((key, val)) = std::str::from_utf8(pair).ok().and_then(|p| p.split_once('=')) else {
                    continue;
                };
                if key.trim().eq_ignore_ascii_case("for") {
                    hop = unquote(val.trim()).and_then(|v| parse_node(&v));
                }
            }
            hop
        })
        .collect()
}

/// Splits on `sep` where it stands outside a quoted string; `None` when a quoted string is
/// never closed.
fn split_outside_quotes(s: &[u8], sep: u8) -> Option<Vec<&[u8]>> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, &b) in s.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    if quoted {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

/// The hops of every line of `header` in `headers`, left to right, as one chain. A line's
/// hops keep their places whatever it holds, so an index into the chain (tollgate-ip's
/// `xff_index`) means the same hop however a client spells its own entries.
pub fn forwarding_hops(headers: &HeaderMap, header: ForwardingHeader) -> Vec<Hop> {
    let mut hops = Vec::new();
    for value in headers.get_all(header.name()) {
        match header {
            ForwardingHeader::XForwardedFor => hops.extend(parse_x_forwarded_for(value.as_bytes())),
            ForwardingHeader::Forwarded => hops.extend(parse_forwarded(value.as_bytes())),
            // one address, written by the nearest proxy: a second line is a client's
            ForwardingHeader::XRealIp => {
                hops = vec![std::str::from_utf8(value.as_bytes()).ok().and_then(parse_node)];
            }
        }
    }
    hops
}

/// A token, or a quoted string with its escapes undone; `None` for a broken quote.
fn unquote(v: &str) -> Option<String> {
    let Some(inner) = v.strip_prefix('"') else { return Some(v.to_owned()) };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(out)
}

/// An address with optional port and brackets; `None` for anything else.
fn parse_node(node: &str) -> Hop {
    let node = node.trim();
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sock) = node.parse::<SocketAddr>() {
        return Some(sock.ip().to_canonical());
    }
    let bracketed = node.strip_prefix('[')?.strip_suffix(']')?;
    bracketed.parse::<std::net::Ipv6Addr>().ok().map(|ip| IpAddr::V6(ip).to_canonical())
}

/// How [`ClientIpLayer`] resolves the client's address.
#[derive(Debug, Clone)]
struct Resolver {
    trusted: TrustedProxies,
    header: ForwardingHeader,
}

impl Resolver {
    /// The client, or `Err(UnresolvedClient)` when the peer is a trusted proxy and the hop
    /// naming the client cannot be read.
    fn resolve(&self, headers: &HeaderMap, peer: IpAddr) -> Result<ClientIp, UnresolvedClient> {
        if !self.trusted.contains(peer) {
            return Ok(ClientIp { ip: peer, peer, peer_trusted: false });
        }
        let hops = forwarding_hops(headers, self.header);
        // Walk from the nearest hop outwards; the first address no trusted proxy owns is the
        // client. Hops further left were written by the client and prove nothing.
        let mut client = peer;
        for hop in hops.iter().rev() {
            let ip = hop.ok_or(UnresolvedClient { peer })?;
            client = ip;
            if !self.trusted.contains(ip) {
                break;
            }
        }
        Ok(ClientIp { ip: client, peer, peer_trusted: true })
    }
}

/// Resolves the [`ClientIp`] of every request and puts it in the request's extensions.
///
/// The client is the connection's peer ([`peer_ip`]) unless that peer lies in the trusted
/// proxy networks; only then is the configured forwarding header read, and the client is
/// the rightmost address in it that is not itself a trusted proxy. An `unknown`, obfuscated
/// or unparseable hop met on that walk leaves the client unresolved rather than guessing: no
/// `ClientIp` is inserted but an [`UnresolvedClient`], so [`ClientIp::from_extensions`] answers
/// `None` (never the proxy's address) and the policies that need the client's address refuse
/// the request (`IpUnresolved`). Forwarding headers are never read by default.
///
/// Name only the header your proxy writes: a proxy that appends to `X-Forwarded-For` usually
/// passes a client's own `Forwarded` header through untouched.
///
/// ```
/// use std::net::{IpAddr, SocketAddr};
/// use http::{Request, Response};
/// use tollgate_core::{ClientIp, ClientIpLayer, PeerAddr};
/// use tower::{ServiceExt, service_fn};
/// use tower_layer::Layer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let layer = ClientIpLayer::new().trust_proxies(["10.0.0.0/8"]).unwrap();
/// let svc = layer.layer(service_fn(|req: Request<()>| async move {
///     let ip = ClientIp::from_extensions(req.extensions()).unwrap().ip();
///     Ok::<_, std::convert::Infallible>(Response::new(ip.to_string()))
/// }));
///
/// let mut req = Request::builder()
///     .header("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.1.1")
///     .body(())
///     .unwrap();
/// req.extensions_mut().insert(PeerAddr("10.0.0.2:4000".parse().unwrap()));
/// let resp = svc.oneshot(req).await.unwrap();
/// assert_eq!(resp.body(), "203.0.113.7"); // 6.6.6.6 was written by the client itself
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ClientIpLayer {
    resolver: Arc<Resolver>,
}

impl Default for ClientIpLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientIpLayer {
    /// Trusts no proxy: the client is the peer.
    pub fn new() -> Self {
        Self {
            resolver: Arc::new(Resolver { trusted: TrustedProxies::none(), header: ForwardingHeader::XForwardedFor }),
        }
    }

    /// Trusts proxies in these networks (IPs or CIDRs). A bad entry is an error naming it.
    pub fn trust_proxies<I, T>(self, entries: I) -> Result<Self, BadNetwork>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        Ok(self.trusted_proxies(TrustedProxies::new(entries)?))
    }

    /// Trusts these proxies.
    pub fn trusted_proxies(mut self, trusted: TrustedProxies) -> Self {
        Arc::make_mut(&mut self.resolver).trusted = trusted;
        self
    }

    /// Reads this forwarding header from trusted proxies (default `X-Forwarded-For`).
    pub fn forwarding_header(mut self, header: ForwardingHeader) -> Self {
        Arc::make_mut(&mut self.resolver).header = header;
        self
    }

    /// Resolves the client of a request with this layer's rules, without running it: `None`
    /// when the peer is unknown or the client behind a trusted proxy cannot be read.
    pub fn resolve<B>(&self, request: &Request<B>) -> Option<ClientIp> {
        let peer = peer_ip(request.extensions())?;
        self.resolver.resolve(request.headers(), peer).ok()
    }
}

impl<S> Layer<S> for ClientIpLayer {
    type Service = ClientIpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientIpService { inner, layer: self.clone() }
    }
}

/// The service made by [`ClientIpLayer`].
#[derive(Debug, Clone)]
pub struct ClientIpService<S> {
    inner: S,
    layer: ClientIpLayer,
}

impl<S, B> Service<Request<B>> for ClientIpService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // A stale value must not survive (a client cannot insert extensions, but an outer
        // layer might have): an insert replaces one of its own type, the other type goes.
        let resolved = peer_ip(req.extensions()).map(|peer| self.layer.resolver.resolve(req.headers(), peer));
        let extensions = req.extensions_mut();
        match resolved {
            Some(Ok(ip)) => {
                extensions.insert(ip);
                extensions.remove::<UnresolvedClient>();
            }
            Some(Err(unresolved)) => {
                extensions.insert(unresolved);
                extensions.remove::<ClientIp>();
            }
            None => {
                extensions.remove::<ClientIp>();
                extensions.remove::<UnresolvedClient>();
            }
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn resolve(trusted: &[&str], header: ForwardingHeader, values: &[(&str, &str)], peer: &str) -> Option<IpAddr> {
        let layer = ClientIpLayer::new().trust_proxies(trusted).unwrap().forwarding_header(header);
        let mut req = Request::new(());
        for (n, v) in values {
            req.headers_mut().append(HeaderName::try_from(*n).unwrap(), v.parse().unwrap());
        }
        req.extensions_mut().insert(PeerAddr(SocketAddr::new(ip(peer), 1)));
        layer.resolve(&req).map(|c| c.ip())
    }

    const XFF: ForwardingHeader = ForwardingHeader::XForwardedFor;

    #[test]
    fn untrusted_peer_headers_ignored() {
        let got = resolve(&[], XFF, &[("x-forwarded-for", "1.1.1.1")], "9.9.9.9");
        assert_eq!(got, Some(ip("9.9.9.9")));
        let got = resolve(&["10.0.0.0/8"], XFF, &[("x-forwarded-for", "1.1.1.1")], "9.9.9.9");
        assert_eq!(got, Some(ip("9.9.9.9")));
    }

    #[test]
    fn rightmost_untrusted_hop() {
        let v = [("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.5")];
        assert_eq!(resolve(&["10.0.0.0/8"], XFF, &v, "10.0.0.1"), Some(ip("1.2.3.4")));
    }

    #[test]
    fn multiple_header_lines_are_one_list() {
        let v = [("x-forwarded-for", "6.6.6.6, 1.2.3.4"), ("x-forwarded-for", "10.0.0.5")];
        assert_eq!(resolve(&["10.0.0.0/8"], XFF, &v, "10.0.0.1"), Some(ip("1.2.3.4")));
    }

    #[test]
    fn all_trusted_takes_leftmost_and_empty_takes_peer() {
        let v = [("x-forwarded-for", "10.0.0.7, 10.0.0.5")];
        assert_eq!(resolve(&["10.0.0.0/8"], XFF, &v, "10.0.0.1"), Some(ip("10.0.0.7")));
        assert_eq!(resolve(&["10.0.0.0/8"], XFF, &[], "10.0.0.1"), Some(ip("10.0.0.1")));
    }

    #[test]
    fn garbage_hop_leaves_client_unknown() {
        let v = [("x-forwarded-for", "1.2.3.4, bogus")];
        assert_eq!(resolve(&["10.0.0.0/8"], XFF, &v, "10.0.0.1"), None);
        // garbage further left than the client does not matter
        let v = [("x-forwarded-for", "bogus, 1.2.3.4")];
        assert_eq!(resolve(&["10.0.0.0/8"], XFF, &v, "10.0.0.1"), Some(ip("1.2.3.4")));
    }

    #[test]
    fn ports_brackets_and_mapped() {
        let v = [("x-forwarded-for", "[2001:db8::1]:443, ::ffff:1.2.3.4, 5.6.7.8:99")];
        let got = resolve(&["5.6.7.8", "::ffff:1.2.3.4", "10.0.0.0/8"], XFF, &v, "::ffff:10.0.0.1");
        assert_eq!(got, Some(ip("2001:db8::1")));
    }

    #[test]
    fn forwarded_header() {
        let f = ForwardingHeader::Forwarded;
        let v = [("forwarded", r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=10.0.0.9"#)];
        assert_eq!(resolve(&["10.0.0.0/8"], f, &v, "10.0.0.1"), Some(ip("2001:db8:cafe::17")));
        let v = [("forwarded", "for=1.2.3.4, for=_hidden")];
        assert_eq!(resolve(&["10.0.0.0/8"], f, &v, "10.0.0.1"), None);
        let v = [("forwarded", "for=unknown;by=10.0.0.1")];
        assert_eq!(resolve(&["10.0.0.0/8"], f, &v, "10.0.0.1"), None);
        // a quoted comma does not split elements
        let v = [("forwarded", r#"for=1.2.3.4;ext="a,b", for=5.6.7.8"#)];
        assert_eq!(parse_forwarded(v[0].1), vec![Some(ip("1.2.3.4")), Some(ip("5.6.7.8"))]);
    }

    #[test]
    fn x_real_ip() {
        let f = ForwardingHeader::XRealIp;
        assert_eq!(resolve(&["10.0.0.0/8"], f, &[("x-real-ip", "1.2.3.4")], "10.0.0.1"), Some(ip("1.2.3.4")));
        assert_eq!(resolve(&["10.0.0.0/8"], f, &[("x-real-ip", "1.2.3.4")], "8.8.8.8"), Some(ip("8.8.8.8")));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let v = [("forwarded", "for=6.6.6.6"), ("x-forwarded-for", "1.2.3.4")];
        assert_eq!(resolve(&["10.0.0.0/8"], XFF, &v, "10.0.0.1"), Some(ip("1.2.3.4")));
    }

    #[test]
    fn trusted_proxies_errors_name_entry() {
        let err = TrustedProxies::new(["10.0.0.0/8", "nope"]).unwrap_err();
        assert_eq!(err.position, 2);
        assert!(err.to_string().contains("\"nope\""));
        assert!(TrustedProxies::new(["10.0.0.0/33"]).is_err());
    }

    #[test]
    fn mapped_trusted_network_matches_v4_peer() {
        let t = TrustedProxies::new(["::ffff:10.0.0.0/104"]).unwrap();
        assert!(t.contains(ip("10.1.2.3")));
        assert!(t.contains(ip("::ffff:10.1.2.3")));
    }

    #[cfg(feature = "axum")]
    #[test]
    fn peer_from_axum_connect_info() {
        let mut ext = Extensions::new();
        ext.insert(axum::extract::ConnectInfo("[::ffff:192.0.2.9]:443".parse::<SocketAddr>().unwrap()));
        assert_eq!(peer_ip(&ext), Some(ip("192.0.2.9")));
    }

    #[cfg(feature = "tonic")]
    #[test]
    fn peer_from_tonic_connect_info() {
        let mut ext = Extensions::new();
        ext.insert(tonic::transport::server::TcpConnectInfo {
            local_addr: Some("127.0.0.1:50051".parse().unwrap()),
            remote_addr: Some("198.51.100.4:6000".parse().unwrap()),
        });
        assert_eq!(peer_ip(&ext), Some(ip("198.51.100.4")));
        // our own extension wins over the server's
        ext.insert(PeerAddr("203.0.113.1:1".parse().unwrap()));
        assert_eq!(peer_ip(&ext), Some(ip("203.0.113.1")));
    }

    #[test]
    fn hops_are_read_byte_by_byte() {
        let hops = parse_x_forwarded_for(b"\xff, 6.6.6.6");
        assert_eq!(hops, vec![None, Some(ip("6.6.6.6"))]);
        // a broken quote swallows what follows it: the whole value is one unknown hop
        assert_eq!(parse_forwarded(r#"for="x, for=6.6.6.6"#), vec![None]);
        assert_eq!(
            parse_forwarded(b"for=6.6.6.6;by=\xff, for=1.2.3.4"),
            vec![Some(ip("6.6.6.6")), Some(ip("1.2.3.4"))]
        );
        // a hop's place in the chain survives a line that is not UTF-8
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_bytes(b"1.1.1.1, \xff").unwrap());
        h.append("x-forwarded-for", HeaderValue::from_static("3.3.3.3"));
        assert_eq!(forwarding_hops(&h, XFF), vec![Some(ip("1.1.1.1")), None, Some(ip("3.3.3.3"))]);
    }

    /// The answer of a future that awaits nothing.
    fn ready<T>(f: impl std::future::Future<Output = Result<T, std::convert::Infallible>>) -> T {
        use futures_util::FutureExt;
        f.now_or_never().expect("ready at once").unwrap_or_else(|never| match never {})
    }

    #[test]
    fn an_unreadable_client_hop_is_unresolved_not_the_proxy() {
        let layer = ClientIpLayer::new().trust_proxies(["10.0.0.0/8"]).unwrap();
        let mut svc = layer.layer(tower::service_fn(|req: Request<()>| async move {
            Ok::<_, std::convert::Infallible>((
                ClientIp::from_extensions(req.extensions()),
                req.extensions().get::<UnresolvedClient>().copied(),
            ))
        }));
        for value in [&b"\xff"[..], b"1.2.3.4, nope", b"1.2.3.4,", b"unknown"] {
            let mut req = Request::new(());
            req.headers_mut().insert("x-forwarded-for", HeaderValue::from_bytes(value).unwrap());
            req.extensions_mut().insert(PeerAddr("10.0.0.2:1".parse().unwrap()));
            let (client, unresolved) = ready(svc.call(req));
            assert_eq!(client, None, "{value:?}");
            assert_eq!(unresolved, Some(UnresolvedClient { peer: ip("10.0.0.2") }));
        }
        // an untrusted peer is the client whatever it sends
        let mut req = Request::new(());
        req.headers_mut().insert("x-forwarded-for", HeaderValue::from_static("nope"));
        req.extensions_mut().insert(PeerAddr("9.9.9.9:1".parse().unwrap()));
        let (client, unresolved) = ready(svc.call(req));
        assert_eq!((client.map(|c| c.ip()), unresolved), (Some(ip("9.9.9.9")), None));
    }

    /// What an outer layer left in the extensions never survives the layer: each outcome
    /// (resolved, unresolved, no peer) leaves its own answer and nothing of the other.
    #[test]
    fn stale_answers_do_not_survive() {
        let layer = ClientIpLayer::new().trust_proxies(["10.0.0.0/8"]).unwrap();
        let mut svc = layer.layer(tower::service_fn(|req: Request<()>| async move {
            Ok::<_, std::convert::Infallible>((
                req.extensions().get::<ClientIp>().copied(),
                req.extensions().get::<UnresolvedClient>().copied(),
            ))
        }));
        let stale = |peer: Option<&str>, forwarded: &'static str| {
            let mut req = Request::new(());
            req.headers_mut().insert("x-forwarded-for", HeaderValue::from_static(forwarded));
            req.extensions_mut().insert(ClientIp::direct(ip("6.6.6.6")));
            req.extensions_mut().insert(UnresolvedClient { peer: ip("6.6.6.6") });
            if let Some(peer) = peer {
                req.extensions_mut().insert(PeerAddr(SocketAddr::new(ip(peer), 1)));
            }
            req
        };
        let (client, unresolved) = ready(svc.call(stale(Some("10.0.0.2"), "203.0.113.7")));
        assert_eq!((client.map(|c| c.ip()), unresolved), (Some(ip("203.0.113.7")), None));
        let (client, unresolved) = ready(svc.call(stale(Some("10.0.0.2"), "unknown")));
        assert_eq!((client, unresolved), (None, Some(UnresolvedClient { peer: ip("10.0.0.2") })));
        assert_eq!(ready(svc.call(stale(None, "203.0.113.7"))), (None, None));
    }

    /// The layer is ready when the service it wraps is, not before (backpressure passes
    /// through it).
    #[test]
    fn readiness_is_the_inner_services() {
        struct Busy;
        impl Service<Request<()>> for Busy {
            type Response = ();
            type Error = std::convert::Infallible;
            type Future = std::future::Ready<Result<(), Self::Error>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
                Poll::Pending
            }
            fn call(&mut self, _: Request<()>) -> Self::Future {
                std::future::ready(Ok(()))
            }
        }
        let mut svc = ClientIpLayer::new().layer(Busy);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(svc.poll_ready(&mut cx).is_pending());
    }

    #[test]
    fn from_extensions_falls_back_to_peer() {
        let mut ext = Extensions::new();
        assert_eq!(ClientIp::from_extensions(&ext), None);
        ext.insert(PeerAddr("[::ffff:127.0.0.1]:80".parse().unwrap()));
        assert_eq!(ClientIp::from_extensions(&ext).unwrap().ip(), ip("127.0.0.1"));
        // but never when a ClientIpLayer found the peer to be a proxy it could not see past
        ext.insert(UnresolvedClient { peer: ip("127.0.0.1") });
        assert_eq!(ClientIp::from_extensions(&ext), None);
    }
}
