//! The configuration: YAML with positions, `${VAR}` substitution, environment overlays, and
//! validation that reports every problem at once with `file:line:column`.
//!
//! Pipeline of `load`: (1) parse the base file into a positioned tree, (2) choose the
//! environment, (3) merge its overlay, (4) expand SSO templates into the tenants that use them,
//! (5) substitute variables into JSON with a source map, (6) decode entry by entry, reporting
//! unknown keys, (7) check the rules across entries.

pub mod branch;
pub mod checks;
pub mod credentials;
pub mod decode;
pub mod diagnostic;
pub mod exported;
pub mod load;
pub mod overlay;
pub mod resolve;
pub mod sections;
pub mod source_map;
pub mod templates;
pub mod types;
pub mod vars;
pub mod yaml;

pub use credentials::{resolve_credentials, ConfigError};
pub use diagnostic::{Diagnostic, DiagnosticKind, Diagnostics, Location};
pub use load::{load, validate_all, LoadOptions, LoadedConfig, DEFAULT_ENVIRONMENT};
pub use sections::{ConfigSection, SectionValue, Sections};
pub use source_map::SourceMap;
pub use types::*;
pub use vars::VarSource;

/// The JSON Schema of the configuration file, for editors' YAML language servers.
pub fn json_schema() -> serde_json::Value {
    decode::schema().clone()
}
