//! The one error type of berth-net.

use std::io;

/// Everything that can go wrong while plumbing a container's network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A netlink request was refused by the kernel.
    #[error("{what}: {errno}{}", ext.as_ref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Netlink {
        what: String,
        errno: io::Error,
        /// The kernel's extended ack message, when it sent one.
        ext: Option<String>,
    },
    /// A system call or file operation failed.
    #[error("{what}: {err}")]
    Io { what: String, err: io::Error },
    /// The network or endpoint configuration is not usable.
    #[error("invalid network configuration: {0}")]
    Config(String),
    /// The address pool cannot satisfy the request.
    #[error("{0}")]
    Ipam(String),
    /// A reply from the kernel did not have the expected shape.
    #[error("unexpected netlink reply: {0}")]
    Protocol(String),
}

impl Error {
    /// Whether the kernel refused a netlink request with `errno` (`libc::EEXIST`, …).
    pub fn is_errno(&self, errno: i32) -> bool {
        matches!(self, Error::Netlink { errno: e, .. } if e.raw_os_error() == Some(errno))
    }
}

/// berth-net's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Adds a description of what was being done to an `io::Error`.
pub trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| Error::Io { what: what(), err })
    }
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::Io {
            what: what(),
            err: io::Error::from(e),
        })
    }
}
