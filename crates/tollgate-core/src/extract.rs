//! axum extractors (feature `axum`): a handler takes [`Caller`], [`ClientIp`] or [`RequestId`]
//! as an argument, as it takes axum's `ConnectInfo`, and reads what the layers in front of it
//! put in the request's extensions.
//!
//! A value that is missing means a layer is missing, a mistake in the server, not in the
//! request: the handler is not run and the response is a 500 naming the layer, as axum's
//! `Extension` answers. `Option<Caller>` (and the others) take the absence instead, for routes
//! that serve both signed and unsigned requests.

use std::convert::Infallible;
use std::fmt;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::{Caller, ClientIp, RequestId, UnresolvedClient};

/// Why a [`Caller`], [`ClientIp`] or [`RequestId`] extractor found nothing to give the
/// handler. Rendered as a plain-text response: [`status`](Self::status) and
/// [`body_text`](Self::body_text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtractRejection {
    /// No [`Caller`]: no signature verifier ran in front of the handler (500).
    MissingCaller,
    /// No [`RequestId`]: no `RequestIdLayer` ran in front of the handler (500).
    MissingRequestId,
    /// No [`ClientIp`]: no `ClientIpLayer` resolved it and the peer address is unknown (500).
    MissingClientIp,
    /// The request came through a trusted proxy whose forwarding hop naming the client cannot
    /// be read ([`UnresolvedClient`]): refused (403), as the policies refuse it
    /// (`IpUnresolved`), rather than answered with the proxy's address.
    UnresolvedClient,
}

impl ExtractRejection {
    /// The response status: 500 for a missing layer, 403 for an unresolved client.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnresolvedClient => StatusCode::FORBIDDEN,
            Self::MissingCaller | Self::MissingRequestId | Self::MissingClientIp => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response body: what is missing and which layer puts it there.
    pub fn body_text(&self) -> &'static str {
        match self {
            Self::MissingCaller => {
                "Missing tollgate `Caller`: no signature verifier (`SignatureLayer`) ran in front of this \
                 handler. Add one, or take `Option<Caller>` on a route that also serves unsigned requests."
            }
            Self::MissingRequestId => {
                "Missing tollgate `RequestId`: no `RequestIdLayer` ran in front of this handler. Add one."
            }
            Self::MissingClientIp => {
                "Missing tollgate `ClientIp`: the peer address is unknown. Serve with \
                 `into_make_service_with_connect_info::<SocketAddr>()` (or insert a `PeerAddr`), and add a \
                 `ClientIpLayer` to resolve clients behind trusted proxies."
            }
            Self::UnresolvedClient => {
                "IpUnresolved: the client's address could not be read from the trusted proxy's forwarding header."
            }
        }
    }
}

impl fmt::Display for ExtractRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.body_text())
    }
}

impl std::error::Error for ExtractRejection {}

impl IntoResponse for ExtractRejection {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_extensions(&parts.extensions).cloned().ok_or(ExtractRejection::MissingCaller)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(Self::from_extensions(&parts.extensions).cloned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_extensions(&parts.extensions).cloned().ok_or(ExtractRejection::MissingRequestId)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(Self::from_extensions(&parts.extensions).cloned())
    }
}

/// Reads [`ClientIp::from_extensions`], so never the peer when the client behind a trusted
/// proxy is unresolved.
impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_extensions(&parts.extensions).ok_or_else(|| {
            if parts.extensions.get::<UnresolvedClient>().is_some() {
                ExtractRejection::UnresolvedClient
            } else {
                ExtractRejection::MissingClientIp
            }
        })
    }
}

/// `None` when the client is unknown or unresolved behind a trusted proxy (never the proxy).
impl<S: Send + Sync> OptionalFromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(Self::from_extensions(&parts.extensions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn extract<T: FromRequestParts<()>>(parts: &mut Parts) -> Result<T, T::Rejection> {
        T::from_request_parts(parts, &()).await
    }

    fn parts() -> Parts {
        http::Request::new(()).into_parts().0
    }

    #[tokio::test]
    async fn each_missing_value_names_its_layer() {
        let mut p = parts();
        assert_eq!(extract::<Caller>(&mut p).await.unwrap_err(), ExtractRejection::MissingCaller);
        assert_eq!(extract::<RequestId>(&mut p).await.unwrap_err(), ExtractRejection::MissingRequestId);
        assert_eq!(extract::<ClientIp>(&mut p).await.unwrap_err(), ExtractRejection::MissingClientIp);
        for (rejection, layer) in [
            (ExtractRejection::MissingCaller, "SignatureLayer"),
            (ExtractRejection::MissingRequestId, "RequestIdLayer"),
            (ExtractRejection::MissingClientIp, "ClientIpLayer"),
        ] {
            assert_eq!(rejection.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert!(rejection.body_text().contains(layer), "{rejection}");
        }
    }

    #[tokio::test]
    async fn an_unresolved_client_is_refused_not_read_as_the_peer() {
        let mut p = parts();
        let proxy = "10.0.0.1:443".parse().unwrap();
        p.extensions.insert(crate::PeerAddr(proxy));
        p.extensions.insert(UnresolvedClient { peer: proxy.ip() });
        let refused = extract::<ClientIp>(&mut p).await.unwrap_err();
        assert_eq!(refused, ExtractRejection::UnresolvedClient);
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let optional = <ClientIp as OptionalFromRequestParts<()>>::from_request_parts(&mut p, &()).await;
        assert_eq!(optional, Ok(None));
    }

    #[tokio::test]
    async fn the_peer_is_the_client_when_no_layer_resolved_one() {
        let mut p = parts();
        p.extensions.insert(crate::PeerAddr("192.0.2.7:5000".parse().unwrap()));
        assert_eq!(extract::<ClientIp>(&mut p).await.unwrap().ip().to_string(), "192.0.2.7");
    }
}
