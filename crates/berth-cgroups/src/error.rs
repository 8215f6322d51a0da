//! The cgroups crate's error type: every message names the file and the value involved.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing a control file failed: the file, the value and the kernel's answer.
    #[error("writing {value:?} to {}: {}", path.display(), os_msg(source))]
    Write {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    /// Another file system operation ("reading", "creating cgroup", ...) failed.
    #[error("{op} {}: {}", path.display(), os_msg(source))]
    Fs {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The configuration needs a controller this host does not have.
    #[error("cgroup controller {0} is not available on this host")]
    MissingController(String),
    /// A configuration that cannot be applied, or no cgroup hierarchy at all.
    #[error("{0}")]
    Invalid(String),
    /// A freeze or thaw did not settle in time.
    #[error("timed out {0}")]
    Timeout(String),
    /// kill(2) failed for a process of the cgroup (other than "no such process").
    #[error("sending signal {sig} to pid {pid}: {}", os_msg(source))]
    Signal {
        pid: i32,
        sig: i32,
        source: std::io::Error,
    },
}

/// The kernel's message for an I/O error without the trailing " (os error N)", so that
/// messages read like `writing "5" to /sys/fs/cgroup/pids/x/pids.max: Invalid argument`.
fn os_msg(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
