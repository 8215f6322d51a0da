//! The cgroups crate's error type: every message names the file and the value involved.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("writing {value:?} to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    #[error("{op} {}: {source}", path.display())]
    Fs {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cgroup controller {0} is not available on this host")]
    MissingController(String),
    #[error("{0}")]
    Invalid(String),
    #[error("timed out {0}")]
    Timeout(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
