//! Errors from the Management API layer, written for the person running the tool: every error
//! names the call, the resource address, and what Descope said, and never the management key.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum ApiErrorKind {
    /// Descope answered with a non-2xx status. `error_code` etc. are exactly as sent.
    Status {
        status: u16,
        error_code: Option<String>,
        error_description: Option<String>,
        error_message: Option<String>,
    },
    /// 429 with Descope's `Retry-After` (whole seconds).
    RateLimited { retry_after: Duration },
    /// No answer within the client's timeout.
    Timeout,
    /// The connection could not be made or broke before a full answer arrived.
    Connection(String),
    /// The server cannot be reached in a way waiting does not heal: its name does not resolve,
    /// or TLS fails (a bad certificate, a proxy in the way). Never retried; the request was
    /// never sent.
    Unreachable(String),
    /// A 2xx answer whose body is not what the API documents.
    Decode(String),
    /// Settings that make any call impossible (bad base URL, missing project id, ...).
    Setup(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub method: &'static str,
    pub path: String,
    pub address: Option<String>,
    pub kind: ApiErrorKind,
    /// Set when this failure means the credentials are wrong (a 401 on the license call or the
    /// first read), so the message can say how to fix it.
    pub credentials_hint: bool,
}

impl ApiError {
    /// A 2xx answer for `req` whose body is not what the API documents (the message comes from
    /// the `wire` readers).
    pub fn decode(req: &super::ApiRequest, message: impl Into<String>) -> ApiError {
        ApiError {
            method: req.method.as_str(),
            path: req.path.to_string(),
            address: req.address.clone(),
            kind: ApiErrorKind::Decode(message.into()),
            credentials_hint: false,
        }
    }

    /// A request that cannot be sent as planned (refused before any network).
    pub fn setup(path: &str, address: &str, why: impl Into<String>) -> ApiError {
        ApiError {
            method: "POST",
            path: path.to_string(),
            address: Some(address.to_string()),
            kind: ApiErrorKind::Setup(why.into()),
            credentials_hint: false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            ApiErrorKind::Status { status, .. } => Some(*status),
            ApiErrorKind::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    pub fn error_code(&self) -> Option<&str> {
        match &self.kind {
            ApiErrorKind::Status { error_code, .. } => error_code.as_deref(),
            ApiErrorKind::RateLimited { .. } => Some("E130429"),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// A 400 that may mean "already exists": after a write that might have been done already,
    /// the caller reads the resource to decide.
    pub fn is_bad_request(&self) -> bool {
        self.status() == Some(400)
    }

    /// The request may or may not have taken effect: a timeout, a broken connection or a 5xx.
    pub fn is_ambiguous(&self) -> bool {
        match &self.kind {
            ApiErrorKind::Timeout | ApiErrorKind::Connection(_) => true,
            ApiErrorKind::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match &self.kind {
            ApiErrorKind::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(addr) = &self.address {
            write!(f, "{addr}: ")?;
        }
        // Setup errors raised before any particular call (bad base URL) have no method or path.
        if self.method.is_empty() && self.path.is_empty() {
            write!(f, "Descope API calls ")?;
        } else {
            write!(f, "{} {} ", self.method, self.path)?;
        }
        match &self.kind {
            ApiErrorKind::Status {
                status,
                error_code,
                error_description,
                error_message,
            } => {
                write!(f, "failed with HTTP {status}")?;
                if let Some(code) = error_code {
                    write!(f, " {code}")?;
                }
                let text = [error_message, error_description]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" — ");
                if !text.is_empty() {
                    write!(f, ": {text}")?;
                }
            }
            ApiErrorKind::RateLimited { retry_after } => write!(
                f,
                "was rate limited (HTTP 429 E130429, retry after {}s)",
                retry_after.as_secs()
            )?,
            ApiErrorKind::Timeout => write!(f, "timed out")?,
            ApiErrorKind::Connection(e) => write!(f, "could not connect: {e}")?,
            ApiErrorKind::Unreachable(e) => write!(
                f,
                "cannot reach Descope: {e} (not retried: check the base URL, DNS and any proxy)"
            )?,
            ApiErrorKind::Decode(e) => write!(f, "returned an unexpected body: {e}")?,
            ApiErrorKind::Setup(e) => write!(f, "cannot be sent: {e}")?,
        }
        if self.credentials_hint {
            write!(
                f,
                "\n  hint: the project id or management key is wrong. Check environments.<env>.project_id and the \
                 variable named in management_key (or DESCOPE_PROJECT_ID / DESCOPE_MANAGEMENT_KEY); \
                 create a key in the Descope console under Company > Management Keys."
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}
