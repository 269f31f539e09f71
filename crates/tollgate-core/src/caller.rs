//! [`Caller`]: who signed the request.

use std::fmt;
use std::sync::Arc;

use http::Extensions;

/// The authenticated identity of a request, put in its extensions by a signature or token verifier.
///
/// Flow control's app dimension, per-app IP rules and system parameters read it. The key id
/// is the credential the request was signed with (Aliyun `AppKey`, Tencent `SecretId`); the
/// app id, when the secret store knows one, is the application that owns it (Aliyun's
/// numeric `appId`). Policies that key by app use [`Caller::app_id`], which falls back to
/// the key id.
///
/// ```
/// use tollgate_core::Caller;
///
/// let caller = Caller::new("203753741").with_app_id("110840611");
/// assert_eq!(caller.key_id(), "203753741");
/// assert_eq!(caller.app_id(), "110840611");
/// assert_eq!(Caller::new("AKID1").app_id(), "AKID1");
/// ```
///
/// With the `axum` feature a handler takes it as an argument. Where no verifier ran the
/// handler is not called and the answer is a 500 naming the missing layer; `Option<Caller>`
/// takes the absence instead:
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::{Router, routing::get};
/// use tollgate_core::Caller;
///
/// async fn whoami(caller: Caller) -> String {
///     caller.app_id().to_owned()
/// }
///
/// async fn greet(caller: Option<Caller>) -> String {
///     caller.map_or_else(|| "hello, stranger".to_owned(), |c| format!("hello, {}", c.app_id()))
/// }
///
/// // in front of these routes: a `SignatureLayer`, which puts the `Caller` there
/// let app: Router = Router::new().route("/whoami", get(whoami)).route("/", get(greet));
/// # }
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    key_id: Arc<str>,
    app_id: Option<Arc<str>>,
    user: Option<Arc<str>>,
    token: bool,
}

impl Caller {
    /// A caller known by its key id.
    pub fn new(key_id: impl Into<Arc<str>>) -> Self {
        Self { key_id: key_id.into(), app_id: None, user: None, token: false }
    }

    /// A caller a token verifier authenticated, known by the token's subject (the `sub`
    /// claim, or the claim the verifier is configured to read) in place of a key id.
    ///
    /// It is marked as such ([`is_token`](Self::is_token)) so that a grant or rule naming
    /// an app key is never met by a token whose subject happens to be written the same way:
    /// whoever can choose a subject (a user name at sign-up) could otherwise take an app's
    /// rights.
    ///
    /// ```
    /// use tollgate_core::Caller;
    ///
    /// let user = Caller::from_token("alice");
    /// assert!(user.is_token());
    /// assert_eq!(user.key_id(), "alice");
    /// assert!(!Caller::new("alice").is_token());
    /// assert_ne!(user, Caller::new("alice"));
    /// ```
    pub fn from_token(subject: impl Into<Arc<str>>) -> Self {
        Self { token: true, ..Self::new(subject) }
    }

    /// Whether a token verifier put this caller there ([`from_token`](Self::from_token)),
    /// rather than a signature verifier.
    pub fn is_token(&self) -> bool {
        self.token
    }

    /// Names the account that owns the app (Aliyun's user, whose flow-control tier sits
    /// between the API's and the app's).
    pub fn with_user(mut self, user: impl Into<Arc<str>>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The owning account, if known.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Names the app that owns the key.
    pub fn with_app_id(mut self, app_id: impl Into<Arc<str>>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// The key id the request was signed with.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The app id if known, else the key id.
    pub fn app_id(&self) -> &str {
        self.app_id.as_deref().unwrap_or(&self.key_id)
    }

    /// Whether `id` names this caller, by app id or key id.
    pub fn is(&self, id: &str) -> bool {
        self.key_id.as_ref() == id || self.app_id.as_deref() == Some(id)
    }

    /// The caller a verifier put in `extensions`, if any.
    pub fn from_extensions(extensions: &Extensions) -> Option<&Self> {
        extensions.get::<Self>()
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("key_id", &self.key_id)
            .field("app_id", &self.app_id)
            .field("user", &self.user)
            .field("token", &self.token)
            .finish()
    }
}
