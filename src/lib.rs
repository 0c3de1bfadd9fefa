//! descope-mgmt: Descope as code. The engine lives here so the CLI, the tests and the benchmarks
//! all drive the same code; `docs/architecture.md` has the picture of how data flows.

pub mod api;
pub mod apply;
pub mod config;
pub mod kinds;
pub mod model;
pub mod ops;
pub mod plan;
pub mod resource;
pub mod secret;
pub mod state;
pub mod util;

/// Version written into plan files and the audit log.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
