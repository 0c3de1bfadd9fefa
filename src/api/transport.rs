//! Sends one `ApiRequest` and maps the answer: the JSON body on 2xx, an `ApiError` carrying the
//! HTTP status and Descope's `errorCode`/`errorMessage` otherwise. No retries and no rate
//! limiting here; `Gateway` wraps this.

// `ApiError` is the shared error type every layer returns; boxing it would change what the
// other modules build against, for a few bytes on a path that ends in a network call.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

use super::credentials::Credentials;
use super::endpoints;
use super::error::{ApiError, ApiErrorKind};
use super::request::{ApiRequest, Effect, Method};
use super::wire;

/// When a 429 carries no usable `Retry-After`, the first wait; each further one in a row doubles,
/// up to [`NO_RETRY_AFTER_CEILING`] (docs/reliability.md, Time bounds).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The longest single wait for a 429 without `Retry-After`: a notice is printed at each wait,
/// so the terminal hears from us at least this often.
pub const NO_RETRY_AFTER_CEILING: Duration = Duration::from_secs(15);
/// After this much waiting on 429s without `Retry-After` in a row, give up with an error.
pub const NO_RETRY_AFTER_LIMIT: Duration = Duration::from_secs(5 * 60);
/// Retries after timeouts (counted apart from other failures), fewer than the gateway allows
/// for 5xx: each costs the whole timeout, and a server slower than the timeout rarely becomes
/// faster. Four still leave ~0.1 % of calls failing when a fifth of all answers are slower
/// than the timeout (docs/design.md §3's fault modes).
pub const TIMEOUT_RETRIES: u32 = 4;
/// One operation (a read, or a write with its outcome checks) gives up after this many times
/// the per-request timeout (`--timeout`), retries and backoff included, but never sooner than
/// [`TransportOptions::deadline_floor`].
pub const DEADLINE_TIMEOUTS: u32 = 4;

/// Identifies this tool the way the SDKs identify themselves (`x-descope-sdk-name: python`).
pub const SDK_NAME: &str = "descope-mgmt";

/// Error bodies are shown to users; a Cloudflare HTML page must not flood the terminal.
const MAX_ERROR_TEXT: usize = 300;

/// A successful (2xx) answer: its status and body as received.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Per request, connect to last byte.
    pub timeout: Duration,
    /// The license handshake's own timeout (PY uses 5 s).
    pub license_timeout: Duration,
    /// The shortest overall deadline of one operation, however short the timeout: with a small
    /// `--timeout`, backoff alone would otherwise use up the deadline.
    pub deadline_floor: Duration,
}

impl TransportOptions {
    /// How long one operation may take overall, retries included: 2 minutes by default (a
    /// server slower than the timeout used to hold a call for 7 attempts, 239 s).
    pub fn deadline(&self) -> Duration {
        self.timeout
            .saturating_mul(DEADLINE_TIMEOUTS)
            .max(self.deadline_floor)
    }
}

/// How many times the gateway may repeat a call after failures like `err`, given what it
/// allows for a 5xx (`max_retries`): the transport knows which failures heal. Timeouts are
/// counted apart from other failures.
pub fn retries_allowed(err: &ApiError, max_retries: u32) -> u32 {
    match err.kind {
        ApiErrorKind::Timeout => max_retries.min(TIMEOUT_RETRIES),
        _ if err.is_ambiguous() => max_retries,
        _ => 0,
    }
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            timeout: Duration::from_secs(30),
            license_timeout: Duration::from_secs(5),
            deadline_floor: Duration::from_secs(60),
        }
    }
}

/// The wait after the `n`th (from 0) 429 in a row without `Retry-After`, having waited `waited`
/// on such answers already; `None`: give up.
pub fn bare_429_wait(n: u32, waited: Duration) -> Option<Duration> {
    (waited < NO_RETRY_AFTER_LIMIT).then(|| {
        DEFAULT_RETRY_AFTER
            .saturating_mul(1u32 << n.min(16))
            .min(NO_RETRY_AFTER_CEILING)
    })
}

/// Failures of a connection that no retry heals: the name does not resolve (hyper's "dns error",
/// getaddrinfo's messages), or TLS refuses the server (rustls' certificate and handshake
/// errors). Matched on the error chain's text because hyper-util and rustls do not expose these
/// as types through reqwest.
fn cannot_heal(chain: &str) -> bool {
    let c = chain.to_ascii_lowercase();
    [
        "dns error",
        "failed to lookup address",
        "name or service not known",
        "nodename nor servname",
        "no such host",
        "certificate",
        "handshake",
        "tls",
        // rustls, when the server does not speak TLS or breaks its rules.
        "received corrupt message",
        "peer misbehaved",
        "received fatal alert",
    ]
    .iter()
    .any(|needle| c.contains(needle))
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
    /// 429s without `Retry-After` in a row, and the milliseconds they made us wait; any other
    /// answer resets both.
    bare_429s: AtomicU32,
    bare_429_wait_ms: AtomicU64,
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
                bare_429s: AtomicU32::new(0),
                bare_429_wait_ms: AtomicU64::new(0),
            }),
        })
    }

    pub fn options(&self) -> &TransportOptions {
        &self.inner.opts
    }

    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// The tier the handshake found, if it succeeded.
    pub fn license_tier(&self) -> Option<String> {
        self.inner.tier.read().ok().and_then(|t| t.clone())
    }

    /// `GET /v1/mgmt/license`, as the SDKs do once per client. Any failure, a 401 included, is
    /// only a warning and later calls go without `x-descope-license`, as in the SDKs: a wrong key
    /// or project is reported by the first real call's 401, which carries the hint
    /// (docs/design.md §2).
    pub async fn handshake(&self) -> Result<Option<String>, ApiError> {
        let req = endpoints::license();
        match self
            .execute(&req, true)
            .await
            .and_then(|answer| self.decode(&req, &answer))
        {
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
        let answer = self.send_raw(req).await?;
        self.decode(req, &answer)
    }

    /// One HTTP exchange, the successful answer as received (an empty write answer as `{}`):
    /// a 10k-tenant list is read object by object from its body rather than as one parsed
    /// tree (`wire::list_raw`).
    pub async fn send_raw(&self, req: &ApiRequest) -> Result<Answer, ApiError> {
        self.execute(req, false).await
    }

    /// A successful answer's body as JSON: an object, for a read.
    pub fn decode(&self, req: &ApiRequest, answer: &Answer) -> Result<Value, ApiError> {
        let value: Value = serde_json::from_slice(&answer.body).map_err(|e| {
            self.error(
                req,
                ApiErrorKind::Decode(format!(
                    "HTTP {} with a body that is not JSON ({e}): {}",
                    answer.status,
                    self.scrub(&String::from_utf8_lossy(&answer.body))
                )),
                false,
            )
        })?;
        if req.effect == Effect::Read && !value.is_object() {
            return Err(self.error(
                req,
                ApiErrorKind::Decode(format!(
                    "HTTP {} with {} where a JSON object was expected",
                    answer.status,
                    match &value {
                        Value::Null => "null",
                        Value::Array(_) => "a list",
                        _ => "a bare value",
                    }
                )),
                false,
            ));
        }
        Ok(value)
    }

    async fn execute(&self, req: &ApiRequest, handshake: bool) -> Result<Answer, ApiError> {
        let inner = &self.inner;
        let url = format!("{}{}", inner.credentials.base_url, req.path);
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
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
            self.reset_bare_429s();
            // Descope answers many writes with an empty body; a read that does is broken, and
            // reading it as "nothing there" would plan to create what exists (issue 14 §2).
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return if req.effect == Effect::Read {
                    Err(fail(ApiErrorKind::Decode(format!(
                        "HTTP {} with an empty body where a JSON object was expected",
                        status.as_u16()
                    ))))
                } else {
                    Ok(Answer {
                        status: status.as_u16(),
                        body: Bytes::from_static(b"{}"),
                    })
                };
            }
            return Ok(Answer {
                status: status.as_u16(),
                body: bytes,
            });
        }

        if status.as_u16() == 429 {
            let given = retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            if let Some(retry_after) = given {
                self.reset_bare_429s();
                return Err(fail(ApiErrorKind::RateLimited { retry_after }));
            }
            // No `Retry-After`: back off, doubling to a ceiling, and give up after a limit
            // rather than stall for the gateway's whole lockout allowance.
            let n = inner.bare_429s.fetch_add(1, Ordering::Relaxed);
            let waited = Duration::from_millis(inner.bare_429_wait_ms.load(Ordering::Relaxed));
            let Some(retry_after) = bare_429_wait(n, waited) else {
                return Err(fail(ApiErrorKind::Status {
                    status: 429,
                    error_code: None,
                    error_description: None,
                    error_message: Some(format!(
                        "Descope kept answering 429 Too Many Requests without Retry-After for {}s ({} answers in a row); giving up. \
                         Wait, lower --rate-limit, and run the command again",
                        waited.as_secs(),
                        n + 1
                    )),
                }));
            };
            inner
                .bare_429_wait_ms
                .fetch_add(retry_after.as_millis() as u64, Ordering::Relaxed);
            return Err(fail(ApiErrorKind::RateLimited { retry_after }));
        }
        self.reset_bare_429s();

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

    fn reset_bare_429s(&self) {
        self.inner.bare_429s.store(0, Ordering::Relaxed);
        self.inner.bare_429_wait_ms.store(0, Ordering::Relaxed);
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
        let mut chain = detail.clone();
        if let Some(cause) = innermost {
            detail = format!("{detail}: {cause}");
        }
        source = std::error::Error::source(e);
        while let Some(s) = source {
            chain.push_str(&format!(": {s:?}"));
            source = s.source();
        }
        if cannot_heal(&format!("{detail}: {chain}")) {
            return ApiErrorKind::Unreachable(self.scrub(&detail));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_without_retry_after_backs_off_to_a_ceiling_then_gives_up() {
        let mut waited = Duration::ZERO;
        let mut waits = Vec::new();
        let mut n = 0;
        while let Some(w) = bare_429_wait(n, waited) {
            waits.push(w.as_secs());
            waited += w;
            n += 1;
        }
        assert_eq!(waits[..6], [1, 2, 4, 8, 15, 15]);
        assert!(waits.iter().all(|w| *w <= NO_RETRY_AFTER_CEILING.as_secs()));
        // Gives up once five minutes of such waits have passed: 15 + (300 - 30) / 15 answers.
        assert_eq!(waits.len(), 23);
        assert!(
            waited >= NO_RETRY_AFTER_LIMIT
                && waited < NO_RETRY_AFTER_LIMIT + NO_RETRY_AFTER_CEILING
        );
    }

    #[test]
    fn name_resolution_and_tls_failures_cannot_heal() {
        for chain in [
            "error sending request: client error (Connect): dns error: failed to lookup address information: Name or service not known",
            "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer",
            "error sending request: client error (Connect): received corrupt message of type InvalidContentType: Custom { kind: InvalidData, error: InvalidMessage(InvalidContentType) } tls",
        ] {
            assert!(cannot_heal(chain), "{chain}");
        }
        for chain in [
            "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)",
            "error sending request: connection closed before message completed",
        ] {
            assert!(!cannot_heal(chain), "{chain}");
        }
    }

    #[test]
    fn timeouts_are_retried_less_than_server_errors() {
        let err = |kind| ApiError {
            method: "GET",
            path: "/v1/mgmt/tenant/all".into(),
            address: None,
            kind,
            credentials_hint: false,
        };
        assert_eq!(
            retries_allowed(&err(ApiErrorKind::Timeout), 6),
            TIMEOUT_RETRIES
        );
        let e503 = ApiErrorKind::Status {
            status: 503,
            error_code: None,
            error_description: None,
            error_message: None,
        };
        assert_eq!(retries_allowed(&err(e503), 6), 6);
        assert_eq!(
            retries_allowed(&err(ApiErrorKind::Unreachable("dns".into())), 6),
            0
        );
        assert_eq!(
            retries_allowed(&err(ApiErrorKind::Decode("x".into())), 6),
            0
        );
    }
}
