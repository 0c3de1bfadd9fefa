//! Descope's Management API: typed requests (`endpoints`, `wire`), the HTTP transport, and the
//! gateway that wraps the transport with the shared rate budget and retries.

pub mod credentials;
pub mod endpoints;
pub mod error;
pub mod gateway;
pub mod request;
pub mod transport;
pub mod window;
pub mod wire;

pub use error::{ApiError, ApiErrorKind};
pub use request::{ApiRequest, Effect, Method};
