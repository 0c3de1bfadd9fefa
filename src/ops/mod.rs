//! One operation per command; the CLI is a thin wrapper over these.

pub mod access_key;
pub mod apply;
pub mod backup;
pub mod drift;
pub mod error;
pub mod export;
pub mod list;
pub mod live;
pub mod plan;
pub mod session;
pub mod state_cmd;
pub mod validate;

pub use error::{exit_code, OpError};
pub use session::{EndpointOverride, GlobalOptions, Session};
