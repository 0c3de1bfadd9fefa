//! One operation per command; the CLI is a thin wrapper over these.

pub mod apply;
pub mod error;
pub mod live;
pub mod plan;
pub mod session;
pub mod validate;

pub use error::OpError;
pub use session::{EndpointOverride, GlobalOptions, Session};
