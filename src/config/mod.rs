//! The configuration: YAML with positions, `${VAR}` substitution, environment overlays, and
//! validation that reports every problem at once with `file:line:column`.

pub mod types;

pub use types::*;
