//! The operations layer's error: everything a command can fail with, each mapped to the exit
//! code of the contract (docs/design.md §1) and printed as a message for the person at the
//! terminal.

use std::fmt;

use crate::api::ApiError;
use crate::apply::verify::Refusal;
use crate::config::{ConfigError, Diagnostics};
use crate::plan::diff::Problem;
use crate::plan::file::PlanFileError;
use crate::state::{LockError, StateError};

#[derive(Debug)]
pub enum OpError {
    /// The configuration is invalid (all problems, with positions).
    Config(Diagnostics),
    /// Credentials or endpoint cannot be resolved.
    Credentials(Box<ConfigError>),
    Api(Box<ApiError>),
    /// The plan cannot be made (protected deletes, replaces not allowed, conflicts).
    Plan(Vec<Problem>),
    /// The plan file cannot be used (edited, other version) — exit 3.
    PlanFile(Box<PlanFileError>),
    /// Apply refuses the plan — exit 3.
    Refused(Refusal),
    State(Box<StateError>),
    Lock(Box<LockError>),
    Usage(String),
    Io(String),
}

/// The process exit codes of the contract (docs/design.md §1, Exit codes).
pub mod exit_code {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const CHANGES: u8 = 2;
    pub const REFUSED: u8 = 3;
}

impl OpError {
    pub fn exit_code(&self) -> u8 {
        match self {
            OpError::PlanFile(e) if matches!(**e, PlanFileError::Read { .. }) => exit_code::ERROR,
            OpError::PlanFile(_) | OpError::Refused(_) => exit_code::REFUSED,
            _ => exit_code::ERROR,
        }
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::Config(d) => write!(f, "the configuration is invalid:\n{d}"),
            OpError::Credentials(e) => write!(f, "{e}"),
            OpError::Api(e) => write!(f, "{e}"),
            OpError::Plan(problems) => {
                writeln!(
                    f,
                    "the plan cannot be made ({} problem(s)):",
                    problems.len()
                )?;
                for p in problems {
                    writeln!(f, "  {}: {}", p.address, p.message)?;
                }
                Ok(())
            }
            OpError::PlanFile(e) => write!(f, "{e}"),
            OpError::Refused(r) => write!(f, "apply refused: {r}"),
            OpError::State(e) => write!(f, "{e}"),
            OpError::Lock(e) => write!(f, "{e}"),
            OpError::Usage(m) | OpError::Io(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for OpError {}

impl From<ApiError> for OpError {
    fn from(e: ApiError) -> Self {
        OpError::Api(Box::new(e))
    }
}
impl From<StateError> for OpError {
    fn from(e: StateError) -> Self {
        OpError::State(Box::new(e))
    }
}
impl From<LockError> for OpError {
    fn from(e: LockError) -> Self {
        OpError::Lock(Box::new(e))
    }
}
impl From<Diagnostics> for OpError {
    fn from(e: Diagnostics) -> Self {
        OpError::Config(e)
    }
}
impl From<ConfigError> for OpError {
    fn from(e: ConfigError) -> Self {
        OpError::Credentials(Box::new(e))
    }
}
impl From<PlanFileError> for OpError {
    fn from(e: PlanFileError) -> Self {
        OpError::PlanFile(Box::new(e))
    }
}
impl From<Refusal> for OpError {
    fn from(e: Refusal) -> Self {
        OpError::Refused(e)
    }
}
