//! One operation per command; the CLI is a thin wrapper over these.

pub mod validate;
