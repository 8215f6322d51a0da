//! The runtime's one error type, and helpers that attach context to system errors.

use std::fmt::Display;

/// Everything that can go wrong in `berth runtime`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bundle's config.json is missing, malformed or asks for something impossible.
    #[error("invalid config: {0}")]
    Config(String),
    /// No container with this id under the state root.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// A container with this id already exists.
    #[error("container {0} already exists")]
    Exists(String),
    /// The operation does not fit the container's current status.
    #[error("container {id} is {status}: {what}")]
    State {
        id: String,
        status: String,
        what: String,
    },
    /// A bad argument on the command line or in a request.
    #[error("{0}")]
    Invalid(String),
    /// A system call or file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The container's init process reported a failure while setting up.
    #[error("container init failed: {0}")]
    Init(String),
    /// A hook exited non-zero or could not run.
    #[error("{0}")]
    Hook(String),
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::Error),
    #[error(transparent)]
    Seccomp(#[from] berth_seccomp::Error),
}

impl Error {
    /// The text a child sends to its parent, which wraps it in [`Error::Init`] again.
    pub fn for_parent(&self) -> String {
        match self {
            Error::Init(m) => m.clone(),
            e => e.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a description of what was being done to an OS-level error.
pub trait Context<T> {
    fn ctx<D: Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T> Context<T> for std::io::Result<T> {
    fn ctx<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: what().to_string(),
            source,
        })
    }
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| Error::Io {
            context: what().to_string(),
            source: std::io::Error::from_raw_os_error(e as i32),
        })
    }
}
