//! Sends one `ApiRequest` and maps the answer: the JSON body on 2xx, an `ApiError` carrying the
//! HTTP status and Descope's `errorCode`/`errorMessage` otherwise. No retries and no rate
//! limiting here; `Gateway` wraps this.

// `ApiError` is the shared error type every layer returns; boxing it would change what the
// other modules build against, for a few bytes on a path that ends in a network call.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

use super::credentials::Credentials;
use super::endpoints;
use super::error::{ApiError, ApiErrorKind};
use super::request::{ApiRequest, Effect, Method};
use super::wire;

/// When a 429 carries no usable `Retry-After`, wait this long (what TF-3p does).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Identifies this tool the way the SDKs identify themselves (`x-descope-sdk-name: python`).
pub const SDK_NAME: &str = "descope-mgmt";

/// Error bodies are shown to users; a Cloudflare HTML page must not flood the terminal.
const MAX_ERROR_TEXT: usize = 300;

#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Per request, connect to last byte.
    pub timeout: Duration,
    /// The license handshake's own timeout (PY uses 5 s).
    pub license_timeout: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            timeout: Duration::from_secs(30),
            license_timeout: Duration::from_secs(5),
        }
    }
}

/// Cheap to clone; clones share the connection pool and the license tier.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    credentials: Credentials,
    opts: TransportOptions,
    /// Set by a successful handshake; sent as `x-descope-license` from then on.
    tier: RwLock<Option<String>>,
    /// Any 2xx proves the key and project are right, so a later 401 means something else
    /// (docs/design.md §2: a 401 on a tenant-role call may mean the tenant is missing).
    credentials_proven: AtomicBool,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("project_id", &self.inner.credentials.project_id)
            .field("base_url", &self.inner.credentials.base_url)
            .field("timeout", &self.inner.opts.timeout)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(credentials: Credentials, opts: TransportOptions) -> Result<Transport, ApiError> {
        let setup = |why: String| ApiError {
            method: "",
            path: String::new(),
            address: None,
            kind: ApiErrorKind::Setup(why),
            credentials_hint: false,
        };
        if credentials.project_id.trim().is_empty() {
            return Err(setup(
                "the project id is empty (set environments.<env>.project_id or DESCOPE_PROJECT_ID)"
                    .into(),
            ));
        }
        let url = reqwest::Url::parse(&credentials.base_url).map_err(|e| {
            setup(format!(
                "the base URL `{}` is not a URL: {e}",
                credentials.base_url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(setup(format!(
                "the base URL `{}` must start with https:// (or http:// for a local emulator)",
                credentials.base_url
            )));
        }
        // Header values must be visible ASCII; checking here turns a typo into a setup error
        // instead of a failure on every call.
        if HeaderValue::from_str(&credentials.authorization_header()).is_err() {
            return Err(setup(
                "the project id or management key contains characters that cannot be sent in an HTTP header"
                    .into(),
            ));
        }
        if opts.timeout.is_zero() {
            return Err(setup("the request timeout must be more than zero".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(opts.timeout)
            .user_agent(format!("{SDK_NAME}/{}", crate::TOOL_VERSION))
            .build()
            .map_err(|e| setup(format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport {
            inner: Arc::new(Inner {
                client,
                credentials,
                opts,
                tier: RwLock::new(None),
                credentials_proven: AtomicBool::new(false),
            }),
        })
    }

    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// The tier the handshake found, if it succeeded.
    pub fn license_tier(&self) -> Option<String> {
        self.inner.tier.read().ok().and_then(|t| t.clone())
    }

    /// `GET /v1/mgmt/license`, as the SDKs do once per client. A 401 is returned (the key or the
    /// project is wrong, and nothing else will work); any other failure is only a warning, and
    /// later calls go without `x-descope-license`, like an SDK whose handshake failed.
    pub async fn handshake(&self) -> Result<Option<String>, ApiError> {
        let req = endpoints::license();
        match self.execute(&req, true).await {
            Ok(body) => {
                let tier = wire::parse::<wire::License>(&body)
                    .map(|l| l.rate_limit_tier)
                    .unwrap_or_default();
                if tier.is_empty() {
                    tracing::warn!("license handshake answered without a rateLimitTier; continuing without x-descope-license");
                    return Ok(None);
                }
                if HeaderValue::from_str(&tier).is_err() {
                    tracing::warn!("license handshake answered an unusable tier; continuing without x-descope-license");
                    return Ok(None);
                }
                if let Ok(mut t) = self.inner.tier.write() {
                    *t = Some(tier.clone());
                }
                Ok(Some(tier))
            }
            Err(e) if e.is_unauthorized() => Err(e),
            Err(e) => {
                tracing::warn!(
                    "license handshake failed, continuing without x-descope-license: {e}"
                );
                Ok(None)
            }
        }
    }

    /// One HTTP exchange. An empty 2xx body reads as `{}`.
    pub async fn send(&self, req: &ApiRequest) -> Result<Value, ApiError> {
        self.execute(req, false).await
    }

    async fn execute(&self, req: &ApiRequest, handshake: bool) -> Result<Value, ApiError> {
        let inner = &self.inner;
        let url = format!("{}{}", inner.credentials.base_url, req.path);
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
        };
        let mut builder = inner.client.request(method, &url);
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        builder = builder.headers(self.headers(handshake));
        if handshake {
            builder = builder.timeout(inner.opts.license_timeout);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.to_string());
        }

        let fail = |kind: ApiErrorKind| self.error(req, kind, false);
        tracing::debug!(method = req.method.as_str(), path = req.path, "sending");
        let response = builder
            .send()
            .await
            .map_err(|e| fail(self.network_kind(&e)))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| fail(self.network_kind(&e)))?;
        tracing::debug!(
            method = req.method.as_str(),
            path = req.path,
            status = status.as_u16(),
            "answered"
        );

        if status.is_success() {
            inner.credentials_proven.store(true, Ordering::Relaxed);
            // Descope answers many writes with an empty body; a read that does is broken, and
            // reading it as "nothing there" would plan to create what exists (issue 14 §2).
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return if req.effect == Effect::Read {
                    Err(fail(ApiErrorKind::Decode(format!(
                        "HTTP {} with an empty body where a JSON object was expected",
                        status.as_u16()
                    ))))
                } else {
                    Ok(Value::Object(Default::default()))
                };
            }
            let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
                fail(ApiErrorKind::Decode(format!(
                    "HTTP {} with a body that is not JSON ({e}): {}",
                    status.as_u16(),
                    self.scrub(&String::from_utf8_lossy(&bytes))
                )))
            })?;
            if req.effect == Effect::Read && !value.is_object() {
                return Err(fail(ApiErrorKind::Decode(format!(
                    "HTTP {} with {} where a JSON object was expected",
                    status.as_u16(),
                    match &value {
                        Value::Null => "null",
                        Value::Array(_) => "a list",
                        _ => "a bare value",
                    }
                ))));
            }
            return Ok(value);
        }

        if status.as_u16() == 429 {
            let retry_after = retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_RETRY_AFTER);
            return Err(fail(ApiErrorKind::RateLimited { retry_after }));
        }

        let (error_code, error_description, error_message) = self.error_fields(&bytes);
        // Before anything has succeeded, a 401 on a read can only mean wrong credentials: a
        // missing tenant is not what the first read of a plan asks about.
        let hint = status.as_u16() == 401
            && (handshake
                || req.path == endpoints::LICENSE
                || (req.effect == Effect::Read
                    && !inner.credentials_proven.load(Ordering::Relaxed)));
        Err(self.error(
            req,
            ApiErrorKind::Status {
                status: status.as_u16(),
                error_code,
                error_description,
                error_message,
            },
            hint,
        ))
    }

    fn headers(&self, handshake: bool) -> HeaderMap {
        let creds = &self.inner.credentials;
        let mut h = HeaderMap::new();
        // Checked in `new`, so these conversions cannot fail; an unusable value is left out.
        if let Ok(mut v) = HeaderValue::from_str(&creds.authorization_header()) {
            v.set_sensitive(true);
            h.insert(AUTHORIZATION, v);
        }
        // The handshake carries only Authorization, like PY's.
        if handshake {
            return h;
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert("x-descope-sdk-name", HeaderValue::from_static(SDK_NAME));
        h.insert(
            "x-descope-sdk-version",
            HeaderValue::from_static(crate::TOOL_VERSION),
        );
        if let Ok(v) = HeaderValue::from_str(&creds.project_id) {
            h.insert("x-descope-project-id", v);
        }
        if let Some(tier) = self.license_tier() {
            if let Ok(v) = HeaderValue::from_str(&tier) {
                h.insert("x-descope-license", v);
            }
        }
        h
    }

    /// Descope's `{errorCode, errorDescription, errorMessage}`; anything else (a proxy's HTML,
    /// plain text) becomes the message, shortened.
    fn error_fields(&self, bytes: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
        let field = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| self.scrub(s))
        };
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) if v.is_object() => (
                field(&v, "errorCode"),
                field(&v, "errorDescription"),
                field(&v, "errorMessage"),
            ),
            _ => {
                let text = String::from_utf8_lossy(bytes);
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if text.is_empty() {
                    (None, None, None)
                } else {
                    (None, None, Some(self.scrub(&text)))
                }
            }
        }
    }

    fn network_kind(&self, e: &reqwest::Error) -> ApiErrorKind {
        if e.is_timeout() {
            return ApiErrorKind::Timeout;
        }
        // The innermost cause says what happened ("connection refused"); reqwest's own message
        // only says "error sending request".
        let mut detail = e.to_string();
        let mut innermost = None;
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            innermost = Some(s.to_string());
            source = s.source();
        }
        if let Some(cause) = innermost {
            detail = format!("{detail}: {cause}");
        }
        ApiErrorKind::Connection(self.scrub(&detail))
    }

    /// Server text is shown to users; if it ever echoes the key, the key must not get through.
    fn scrub(&self, text: &str) -> String {
        let key = self.inner.credentials.management_key.expose();
        let mut s = if key.is_empty() {
            text.to_string()
        } else {
            text.replace(key, "***")
        };
        if s.chars().count() > MAX_ERROR_TEXT {
            s = format!("{}…", s.chars().take(MAX_ERROR_TEXT).collect::<String>());
        }
        s
    }

    fn error(&self, req: &ApiRequest, kind: ApiErrorKind, credentials_hint: bool) -> ApiError {
        ApiError {
            method: req.method.as_str(),
            path: req.path.to_string(),
            address: req.address.clone(),
            kind,
            credentials_hint,
        }
    }
}
