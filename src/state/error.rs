//! Errors from the state directory, written for the person running the tool: each names the
//! file and says what to do about it.

use std::path::PathBuf;

use crate::util::atomic::FileError;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    File(#[from] FileError),

    /// A file exists but cannot be understood. `hint` says what to do.
    #[error("{} is not a valid {what}: {detail}. {hint}", path.display())]
    Corrupt {
        path: PathBuf,
        what: &'static str,
        detail: String,
        hint: &'static str,
    },

    #[error(
        "{} has format version {found}, but this descope-mgmt only understands versions up to {supported}: upgrade descope-mgmt",
        path.display()
    )]
    NewerFormat {
        path: PathBuf,
        found: u64,
        supported: u32,
    },

    #[error(
        "{} belongs to environment `{found}`, not `{expected}`: it was probably copied from another environment's directory; move it back",
        path.display()
    )]
    WrongEnvironment {
        path: PathBuf,
        found: String,
        expected: String,
    },

    #[error(
        "{} records resources of project `{recorded}`, but environment `{environment}` now points at project `{requested}`. \
         If the environment really moved to a new project, move the old state file aside and adopt the resources with \
         `descope-mgmt state import` or `export --adopt`; otherwise fix the project id",
        path.display()
    )]
    WrongProject {
        path: PathBuf,
        environment: String,
        recorded: String,
        requested: String,
    },

    /// A name that would become part of a path is not safe to use as one.
    #[error("{0}")]
    InvalidName(String),

    /// A `WriteMode::Create` found something already stored under the key.
    #[error("{location} already exists")]
    AlreadyExists { location: String },

    /// A compare-and-swap write found the object changed since it was read: another writer
    /// got past the lock (or the lock was taken over after this process's lease expired).
    #[error(
        "{location} was changed by someone else since this run read it ({detail}); nothing was \
         overwritten. Another descope-mgmt run wrote it behind the lock's back, or this run's \
         lock lease expired and was taken over. Run the command again: it starts from what is stored now"
    )]
    Conflict { location: String, detail: String },

    /// The object storage refused or failed a request; names the bucket, the key and the
    /// storage's own answer.
    #[error("could not {action} {location}: {detail}")]
    Storage {
        action: &'static str,
        location: String,
        detail: String,
    },
}

impl StateError {
    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        what: &'static str,
        detail: impl ToString,
        hint: &'static str,
    ) -> Self {
        StateError::Corrupt {
            path: path.into(),
            what,
            detail: detail.to_string(),
            hint,
        }
    }
}
