//! The crate's one error type, and a helper that attaches context to system errors.

use std::fmt::Display;

/// Everything that can go wrong talking to, spawning or running a shim.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call or file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The runtime library refused or failed (create, exec, load).
    #[error(transparent)]
    Runtime(#[from] berth_runtime::Error),
    /// The shim reported a failure: its readiness line or a reply carried `{"error": ...}`.
    #[error("{0}")]
    Shim(String),
    /// A malformed line on the control socket or the readiness pipe.
    #[error("shim protocol: {0}")]
    Protocol(String),
    /// A bad command line given to the `berth-shim` binary.
    #[error("usage: {0}")]
    Usage(String),
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
