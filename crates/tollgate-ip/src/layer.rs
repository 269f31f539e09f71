//! [`IpAccessLayer`] and its service.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response, StatusCode};
use ipnet::IpNet;
use tollgate_core::{
    Caller, ClientIp, ErrorStyle, ForwardingHeader, PolicyFuture, Rejection, ResponseBody, forwarding_hops,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::config::{ConfigError, IpAccessConfig, Mode, parse_ip_list};
use crate::policy::{Policy, Verdict};
use crate::ranges::IpRanges;

/// The refusal code when the client's address is not allowed.
pub const CODE_DENIED: &str = "IpAccessDenied";
/// The refusal code when the client's address cannot be determined.
pub const CODE_UNRESOLVED: &str = "IpUnresolved";
/// Our Aliyun-style text for an IP refusal (the reference's error table lists none).
pub const ALIYUN_MESSAGE: &str = "Access denied by IP Control";

/// The refusal of an allow list with no entries at all, which would let every address in.
fn empty_allow_list() -> ConfigError {
    ConfigError::new("ips", "an allow list needs at least one entry (general or per app)")
}

/// The refusal of an empty app id.
fn empty_app_id() -> ConfigError {
    ConfigError::new("apps", "an app id must not be empty")
}

#[derive(Debug, Clone)]
struct Settings {
    mode: Mode,
    general: Vec<IpNet>,
    apps: BTreeMap<String, Vec<IpNet>>,
    descriptions: BTreeMap<String, String>,
    xff_index: Option<i64>,
    pass_unresolved: bool,
    style: ErrorStyle,
    aliyun_message: Cow<'static, str>,
    policy: Policy,
}

impl Settings {
    fn compile(&mut self) {
        self.policy = Policy {
            mode: self.mode,
            general: IpRanges::new(self.general.iter().copied()),
            apps: self.apps.iter().map(|(id, nets)| (id.clone(), IpRanges::new(nets.iter().copied()))).collect(),
            descriptions: self
                .descriptions
                .iter()
                .filter_map(|(entry, note)| Some((parse_ip_list(entry).ok()?.into_iter().next()?, note.clone())))
                .collect(),
        };
    }

    fn client_ip(&self, extensions: &http::Extensions, headers: &HeaderMap) -> Option<IpAddr> {
        let client = ClientIp::from_extensions(extensions)?;
        match self.xff_index {
            Some(index) if client.peer_is_trusted_proxy() => xff_at(headers, index),
            _ => Some(client.ip()),
        }
    }

    fn decide<B>(&self, req: &Request<B>) -> Result<(), Rejection> {
        let Some(ip) = self.client_ip(req.extensions(), req.headers()) else {
            if self.pass_unresolved {
                return Ok(());
            }
            return Err(
                self.rejection(CODE_UNRESOLVED, Cow::Borrowed("the client's IP address could not be determined"))
            );
        };
        match self.policy.check(ip, Caller::from_extensions(req.extensions())) {
            Verdict::Pass => {
                tollgate_core::observe::accepted("ip");
                Ok(())
            }
            verdict => {
                let why = if verdict == Verdict::Listed { "is on the deny list" } else { "is not on the allow list" };
                if let Some(note) = self.policy.description(ip) {
                    tracing::debug!(%ip, note, "ip access: matched a described entry");
                }
                Err(self.rejection(CODE_DENIED, Cow::Owned(format!("client IP {ip} {why}"))))
            }
        }
    }

    fn rejection(&self, code: &'static str, message: Cow<'static, str>) -> Rejection {
        Rejection::new(StatusCode::FORBIDDEN, code, message)
            .with_policy("ip")
            .with_aliyun_api_gateway(StatusCode::FORBIDDEN, self.aliyun_message.clone())
    }
}

/// The X-Forwarded-For entry at `index`: from 0 at the left, negative from the right.
fn xff_at(headers: &HeaderMap, index: i64) -> Option<IpAddr> {
    let hops = forwarding_hops(headers, ForwardingHeader::XForwardedFor);
    let i = if index < 0 { hops.len().checked_sub(index.unsigned_abs() as usize)? } else { index as usize };
    hops.get(i).copied().flatten()
}

/// IP access control: an allow list or a deny list of addresses and networks, optionally
/// per app, as a tower layer.
///
/// Built from code ([`allow`](Self::allow), [`deny`](Self::deny)) or from either cloud's
/// plugin configuration ([`from_config`](Self::from_config)). The client's address is
/// [`ClientIp`]: the connection's peer, or what a [`ClientIpLayer`](tollgate_core::ClientIpLayer)
/// outside this one resolved from a trusted proxy's headers. A request whose address cannot
/// be determined is refused (see [`pass_unresolved`](Self::pass_unresolved)). A refusal is
/// 403 with code `IpAccessDenied` (or `IpUnresolved`), rendered in the layer's
/// [`ErrorStyle`]; in the Aliyun style its `X-Ca-Error-Message` is
/// `Access denied by IP Control` — our wording, as the reference documents none.
///
/// The lookup is a binary search over sorted, merged ranges: its cost grows with the
/// logarithm of the list, not its length.
///
/// ```
/// use http::{Request, Response, StatusCode};
/// use tollgate_core::PeerAddr;
/// use tollgate_ip::IpAccessLayer;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let service = ServiceBuilder::new()
///     .layer(IpAccessLayer::allow(["127.0.0.1", "10.0.0.0/8"])?)
///     .service(service_fn(|_req: Request<String>| async {
///         Ok::<_, std::convert::Infallible>(Response::new(String::from("hello")))
///     }));
///
/// let from = |peer: &str| {
///     let mut req = Request::new(String::new());
///     req.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
///     req
/// };
/// let ok = service.clone().oneshot(from("10.1.2.3:5000")).await?;
/// assert_eq!(ok.status(), StatusCode::OK);
/// let refused = service.oneshot(from("192.0.2.1:5000")).await?;
/// assert_eq!(refused.status(), StatusCode::FORBIDDEN);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct IpAccessLayer {
    settings: Arc<Settings>,
}

impl IpAccessLayer {
    fn build(mode: Mode, general: Vec<IpNet>) -> Self {
        let mut settings = Settings {
            mode,
            general,
            apps: BTreeMap::new(),
            descriptions: BTreeMap::new(),
            xff_index: None,
            pass_unresolved: false,
            style: ErrorStyle::default(),
            aliyun_message: Cow::Borrowed(ALIYUN_MESSAGE),
            policy: Policy { mode, general: IpRanges::default(), apps: Vec::new(), descriptions: Vec::new() },
        };
        settings.compile();
        Self { settings: Arc::new(settings) }
    }

    fn parse(field: &str, entries: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Vec<IpNet>, ConfigError> {
        // One text, so an error's position counts entries across every item given.
        let text = entries.into_iter().map(|e| e.as_ref().to_owned()).collect::<Vec<_>>().join("\n");
        parse_ip_list(&text).map_err(|e| e.within(field))
    }

    /// Only these addresses pass (a white list). Entries are IPs or CIDRs, IPv4 and IPv6;
    /// an item may hold several separated by `;`, `,`, whitespace or newlines.
    pub fn allow(entries: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, ConfigError> {
        let nets = Self::parse("ips", entries)?;
        if nets.is_empty() {
            return Err(empty_allow_list());
        }
        Ok(Self::build(Mode::Allow, nets))
    }

    /// These addresses are refused (a black list); everyone else passes.
    pub fn deny(entries: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, ConfigError> {
        Ok(Self::build(Mode::Deny, Self::parse("ips", entries)?))
    }

    /// A layer from a Tencent, Aliyun or compact configuration (see [`IpAccessConfig`]).
    ///
    /// ```
    /// use tollgate_ip::{IpAccessConfig, IpAccessLayer};
    ///
    /// let tencent: IpAccessConfig =
    ///     serde_json::from_str(r#"{"type": "white_list", "blocks": "1.1.1.1\n10.0.0.0/8"}"#).unwrap();
    /// let layer = IpAccessLayer::from_config(&tencent).unwrap();
    ///
    /// let aliyun: IpAccessConfig = serde_json::from_str(r#"{
    ///     "type": "ALLOW",
    ///     "items": [{"blocks": ["61.3.0.0/24"], "appId": 219810}, {"blocks": ["79.11.2.3"]}]
    /// }"#).unwrap();
    /// let layer = IpAccessLayer::from_config(&aliyun).unwrap();
    /// ```
    pub fn from_config(config: &IpAccessConfig) -> Result<Self, ConfigError> {
        let mut layer = Self::build(config.mode, config.general.clone());
        {
            let s = Arc::make_mut(&mut layer.settings);
            for rule in &config.apps {
                if rule.app_id.is_empty() {
                    return Err(empty_app_id());
                }
                s.apps.entry(rule.app_id.clone()).or_default().extend(&rule.nets);
            }
            s.descriptions = config.descriptions.clone();
            s.xff_index = config.xff_index;
            s.compile();
        }
        layer.check_not_empty()?;
        Ok(layer)
    }

    fn check_not_empty(&self) -> Result<(), ConfigError> {
        let s = &self.settings;
        if s.mode == Mode::Allow && s.general.is_empty() && s.apps.values().all(Vec::is_empty) {
            return Err(empty_allow_list());
        }
        Ok(())
    }

    /// Adds addresses for one app (matched against [`Caller`]'s app id, then key id).
    ///
    /// In allow mode the app may call only from these addresses or the general list, and
    /// other apps are not restricted by them; in deny mode the app is refused from them.
    /// App entries are judged only where a `Caller` is present, so place this layer inside
    /// the signature layer when you use them.
    pub fn app(
        mut self,
        app_id: impl Into<String>,
        entries: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, ConfigError> {
        let app_id = app_id.into();
        if app_id.is_empty() {
            return Err(empty_app_id());
        }
        let nets = Self::parse(&format!("apps.{app_id}"), entries)?;
        let s = Arc::make_mut(&mut self.settings);
        s.apps.entry(app_id).or_default().extend(nets);
        s.compile();
        Ok(self)
    }

    /// Takes the client's address from the `X-Forwarded-For` entry at `index` (0 the
    /// leftmost, -1 the rightmost), as Aliyun's `resource: "XFF:-1"` does — but only when
    /// the connection comes from a proxy trusted by a
    /// [`ClientIpLayer`](tollgate_core::ClientIpLayer) outside this layer. From any other
    /// peer the header is ignored and the resolved [`ClientIp`] is used, so a caller cannot
    /// pick its own address by writing the header.
    pub fn forwarded_for_index(mut self, index: i64) -> Self {
        Arc::make_mut(&mut self.settings).xff_index = Some(index);
        self
    }

    /// Lets requests whose client address cannot be determined pass (default: refused).
    pub fn pass_unresolved(mut self, pass: bool) -> Self {
        Arc::make_mut(&mut self.settings).pass_unresolved = pass;
        self
    }

    /// Renders refusals in this style (default: problem+json).
    pub fn error_style(mut self, style: ErrorStyle) -> Self {
        Arc::make_mut(&mut self.settings).style = style;
        self
    }

    /// The `X-Ca-Error-Message` text in the Aliyun style (default `Access denied by IP Control`).
    pub fn aliyun_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        Arc::make_mut(&mut self.settings).aliyun_message = message.into();
        self
    }

    /// Whether this is an allow list or a deny list.
    pub fn mode(&self) -> Mode {
        self.settings.mode
    }

    /// Whether some entries are bound to an app. Those need the [`Caller`], known only once
    /// a signature or token was verified: stack this layer inside the authentication layer
    /// (the `Gateway` does so by itself), or the app-bound entries never apply.
    pub fn has_app_entries(&self) -> bool {
        self.settings.apps.values().any(|nets| !nets.is_empty())
    }

    /// Judges `ip` (and the caller, for per-app entries) without a request: `Ok` if it passes.
    pub fn check(&self, ip: IpAddr, caller: Option<&Caller>) -> Result<(), Rejection> {
        let mut req = Request::new(());
        req.extensions_mut().insert(ClientIp::direct(ip));
        if let Some(caller) = caller {
            req.extensions_mut().insert(caller.clone());
        }
        self.settings.decide(&req)
    }
}

impl<S> Layer<S> for IpAccessLayer {
    type Service = IpAccess<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IpAccess { inner, settings: self.settings.clone() }
    }
}

/// The service made by [`IpAccessLayer`].
#[derive(Debug, Clone)]
pub struct IpAccess<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for IpAccess<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = PolicyFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.settings.decide(&req) {
            Ok(()) => PolicyFuture::inner(self.inner.call(req)),
            Err(rejection) => PolicyFuture::refused(self.settings.style.respond(&rejection, &req)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use std::convert::Infallible;
    use tollgate_core::{ClientIpLayer, PeerAddr};
    use tower::{ServiceExt, service_fn};

    async fn ok(_req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
        Ok(Response::new(Full::new(Bytes::from_static(b"handler"))))
    }

    fn request(peer: Option<&str>, xff: Option<&str>) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(Bytes::new()));
        if let Some(p) = peer {
            req.extensions_mut().insert(PeerAddr(p.parse().unwrap()));
        }
        if let Some(x) = xff {
            req.headers_mut().insert("x-forwarded-for", x.parse().unwrap());
        }
        req
    }

    async fn status(layer: &IpAccessLayer, req: Request<Full<Bytes>>) -> u16 {
        layer.layer(service_fn(ok)).oneshot(req).await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn allow_and_deny() {
        let allow = IpAccessLayer::allow(["127.0.0.1;::1"]).unwrap();
        assert_eq!(status(&allow, request(Some("127.0.0.1:1"), None)).await, 200);
        assert_eq!(status(&allow, request(Some("[::1]:1"), None)).await, 200);
        assert_eq!(status(&allow, request(Some("[::ffff:127.0.0.1]:1"), None)).await, 200);
        assert_eq!(status(&allow, request(Some("127.0.0.2:1"), None)).await, 403);
        let deny = IpAccessLayer::deny(["127.0.0.0/8"]).unwrap();
        assert_eq!(status(&deny, request(Some("127.0.0.9:1"), None)).await, 403);
        assert_eq!(status(&deny, request(Some("10.0.0.1:1"), None)).await, 200);
    }

    #[tokio::test]
    async fn refusal_never_reaches_handler_and_is_problem_json() {
        let deny = IpAccessLayer::deny(["10.0.0.0/8"]).unwrap();
        let resp = deny.layer(service_fn(ok)).oneshot(request(Some("10.0.0.1:1"), None)).await.unwrap();
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], CODE_DENIED);
        assert_eq!(json["policy"], "ip");
        assert!(json["detail"].as_str().unwrap().contains("10.0.0.1"));
    }

    #[tokio::test]
    async fn unresolved_client_refused_unless_configured() {
        let allow = IpAccessLayer::allow(["127.0.0.1"]).unwrap();
        let resp = allow.layer(service_fn(ok)).oneshot(request(None, None)).await.unwrap();
        assert_eq!(resp.status(), 403);
        let body: serde_json::Value =
            serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(body["code"], CODE_UNRESOLVED);
        let deny = IpAccessLayer::deny(["10.0.0.1"]).unwrap().pass_unresolved(true);
        assert_eq!(status(&deny, request(None, None)).await, 200);
    }

    #[tokio::test]
    async fn aliyun_style_message() {
        let deny = IpAccessLayer::deny(["10.0.0.1"]).unwrap().error_style(ErrorStyle::AliyunApiGateway);
        let resp = deny.layer(service_fn(ok)).oneshot(request(Some("10.0.0.1:1"), None)).await.unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(resp.headers()["x-ca-error-message"], ALIYUN_MESSAGE);
        let custom = deny.aliyun_message("Denied");
        let resp = custom.layer(service_fn(ok)).oneshot(request(Some("10.0.0.1:1"), None)).await.unwrap();
        assert_eq!(resp.headers()["x-ca-error-message"], "Denied");
    }

    #[tokio::test]
    async fn xff_index_only_behind_trusted_proxy() {
        let allow = IpAccessLayer::allow(["1.2.3.4"]).unwrap().forwarded_for_index(-1);
        let trusted = ClientIpLayer::new().trust_proxies(["10.0.0.0/8"]).unwrap();
        let svc = || trusted.layer(allow.layer(service_fn(ok)));
        // behind the trusted proxy, the last XFF entry is the client
        let r = svc().oneshot(request(Some("10.0.0.1:1"), Some("9.9.9.9, 1.2.3.4"))).await.unwrap();
        assert_eq!(r.status(), 200);
        let r = svc().oneshot(request(Some("10.0.0.1:1"), Some("1.2.3.4, 9.9.9.9"))).await.unwrap();
        assert_eq!(r.status(), 403);
        // index 0 picks the leftmost
        let first = IpAccessLayer::allow(["1.2.3.4"]).unwrap().forwarded_for_index(0);
        let r = trusted
            .layer(first.layer(service_fn(ok)))
            .oneshot(request(Some("10.0.0.1:1"), Some("1.2.3.4, 9.9.9.9")))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // from an untrusted peer the header is ignored
        let r = svc().oneshot(request(Some("8.8.8.8:1"), Some("1.2.3.4"))).await.unwrap();
        assert_eq!(r.status(), 403);
        // an index outside the list leaves the client unresolved
        let r = svc().oneshot(request(Some("10.0.0.1:1"), None)).await.unwrap();
        assert_eq!(r.status(), 403);
    }

    #[test]
    fn xff_at_indices() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "1.1.1.1, 2.2.2.2".parse().unwrap());
        h.append("x-forwarded-for", "3.3.3.3".parse().unwrap());
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(xff_at(&h, 0), ip("1.1.1.1"));
        assert_eq!(xff_at(&h, 2), ip("3.3.3.3"));
        assert_eq!(xff_at(&h, -1), ip("3.3.3.3"));
        assert_eq!(xff_at(&h, -3), ip("1.1.1.1"));
        assert_eq!(xff_at(&h, 3), None);
        assert_eq!(xff_at(&h, -4), None);
        assert_eq!(xff_at(&h, i64::MIN), None);
    }

    #[test]
    fn build_errors_name_the_entry() {
        let err = IpAccessLayer::allow(["10.0.0.1", "10.0.0.0/8;bad"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("ips") && text.contains("bad") && text.contains('3'), "{text}");
        let err = IpAccessLayer::allow(Vec::<String>::new()).unwrap_err();
        assert_eq!(err.to_string(), "ips: an allow list needs at least one entry (general or per app)");
        let err = IpAccessLayer::deny(["1.1.1.1"]).unwrap().app("a", ["x"]).unwrap_err();
        assert!(err.to_string().contains("apps.a"), "{err}");
    }

    #[test]
    fn per_app_check() {
        let layer = IpAccessLayer::allow(["79.11.2.3"]).unwrap().app("219810", ["61.3.0.0/24"]).unwrap();
        let app = Caller::new("key").with_app_id("219810");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(layer.check(ip("61.3.0.1"), Some(&app)).is_ok());
        assert!(layer.check(ip("79.11.2.3"), Some(&app)).is_ok());
        assert!(layer.check(ip("61.3.0.1"), None).is_err());
        assert!(layer.check(ip("61.3.0.1"), Some(&Caller::new("x"))).is_err());
    }
}
