//! Descope's error body. Every error carries an `errorCode`, because the Go SDK treats a body
//! without one as an invalid response rather than an API error (docs/descope-api.md §8).

use axum::http::StatusCode;
use serde_json::{json, Value};

/// Codes Descope is known to use (docs/descope-api.md §8).
pub const BAD_REQUEST: &str = "E011001";
pub const MISSING_ARGUMENTS: &str = "E011002";
pub const INVALID_REQUEST: &str = "E011003";
pub const INVALID_ARGUMENTS: &str = "E011004";
pub const RATE_LIMITED: &str = "E130429";

/// Codes no public source pins down; invented so they are recognisable (docs/emulator.md).
pub const UNAUTHORIZED: &str = "E011401";
pub const NOT_FOUND: &str = "E011404";
pub const INTERNAL: &str = "E011500";
pub const UNAVAILABLE: &str = "E011503";

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    pub message: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        description: &str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            description: description.to_string(),
            message: message.into(),
        }
    }

    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, BAD_REQUEST, "Bad request", message)
    }

    pub fn missing(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            MISSING_ARGUMENTS,
            "Request is missing required arguments",
            format!("Missing required argument: {field}"),
        )
    }

    pub fn wrong_type(field: &str, expected: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            INVALID_ARGUMENTS,
            "Request has invalid arguments",
            format!("Argument {field} must be {expected}"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Invalid request",
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, NOT_FOUND, "Not found", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            UNAUTHORIZED,
            "Unauthorized",
            "Invalid project id or management key",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            UNAVAILABLE,
            "Service unavailable",
            "Injected fault: failed before touching data",
        )
    }

    pub fn internal_after_commit() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            INTERNAL,
            "Internal server error",
            "Injected fault: the write was committed",
        )
    }

    pub fn rate_limited() -> Self {
        // The exact body Descope sends (PY tests, GO ErrRateLimitExceeded).
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            RATE_LIMITED,
            "https://docs.descope.com/rate-limit",
            "API rate limit exceeded.",
        )
    }

    pub fn body(&self) -> Value {
        json!({
            "errorCode": self.code,
            "errorDescription": self.description,
            "errorMessage": self.message,
        })
    }
}
