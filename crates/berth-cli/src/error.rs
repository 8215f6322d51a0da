//! The crate's one error type, and how each error maps to docker's messages and exit codes.

use std::io;

/// Everything that can go wrong in a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The daemon answered with an error status; `message` is its JSON `message`.
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },
    /// Nobody answers on the daemon socket.
    #[error("Cannot connect to the berth daemon at {host}. Is the berth daemon running?")]
    Connect {
        host: String,
        #[source]
        source: io::Error,
    },
    /// A flag or argument value docker would reject.
    #[error("{0}")]
    Usage(String),
    /// The daemon spoke something that is not the HTTP or stream format we expect.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A `--format` template that does not parse or does not evaluate.
    #[error("template: {0}")]
    Template(String),
    /// A plain failure with docker's wording (e.g. "No such object: x").
    #[error("{0}")]
    Msg(String),
    /// Already reported on stderr; exit with this status.
    #[error("exit status {0}")]
    Exit(i32),
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A daemon error with this HTTP status (404 for "No such ...").
    pub fn is_status(&self, code: u16) -> bool {
        matches!(self, Error::Daemon { status, .. } if *status == code)
    }

    /// The exit status docker uses for this error outside `run`.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Exit(code) => *code,
            _ => 1,
        }
    }

    /// Shorthand for a usage error.
    pub fn usage(msg: impl Into<String>) -> Error {
        Error::Usage(msg.into())
    }

    /// Shorthand for a plain message.
    pub fn msg(msg: impl Into<String>) -> Error {
        Error::Msg(msg.into())
    }
}
