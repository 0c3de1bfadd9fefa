//! One Management API call as data: built by the pure functions in `endpoints`, sent by
//! `Transport`, wrapped by `Gateway` for rate limiting and retries.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Whether repeating the call can change anything. Writes are never blindly retried after an
/// ambiguous failure: the outcome is read first (docs/design.md §2, Ambiguous failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Read,
    Write,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    /// Path starting with `/v1/` or `/v2/`, without the query string.
    pub path: &'static str,
    pub query: Vec<(&'static str, String)>,
    /// JSON body; `None` sends no body at all (some SDK calls do that).
    pub body: Option<Value>,
    pub effect: Effect,
    /// The resource address the call is for (`tenant.acme`), used in error messages.
    pub address: Option<String>,
}

impl ApiRequest {
    pub fn read(method: Method, path: &'static str) -> Self {
        ApiRequest {
            method,
            path,
            query: Vec::new(),
            body: None,
            effect: Effect::Read,
            address: None,
        }
    }

    pub fn write(path: &'static str, body: Value) -> Self {
        ApiRequest {
            method: Method::Post,
            path,
            query: Vec::new(),
            body: Some(body),
            effect: Effect::Write,
            address: None,
        }
    }

    pub fn with_query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn for_address(mut self, address: impl ToString) -> Self {
        self.address = Some(address.to_string());
        self
    }
}
