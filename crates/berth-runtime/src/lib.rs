//! berth's OCI runtime (runtime-spec 1.x): containers created with one clone3 into all their
//! namespaces and cgroup, no re-exec; the library behind `berth runtime` and the engine.

mod channel;
pub mod config;
mod console;
pub mod create;
pub mod error;
pub mod exec;
mod hooks;
mod init;
pub mod lifecycle;
pub mod mounts;
mod rootfs;
pub mod security;
pub mod spec;
pub mod state;
mod sys;

pub use create::{create, CreateOpts};
pub use error::{Error, Result};
pub use exec::{exec, ExecOpts};
pub use lifecycle::{list, parse_signal, run, Container};
pub use state::{PublicState, Status, DEFAULT_ROOT};

/// This host's cgroup hierarchy, detected once per process: a long-lived caller (the
/// engine) would otherwise re-read its mountinfo, one line per running container's rootfs,
/// for every status check.
pub(crate) fn host_hierarchy() -> Result<berth_cgroups::Hierarchy> {
    static HOST: std::sync::OnceLock<berth_cgroups::Hierarchy> = std::sync::OnceLock::new();
    if let Some(h) = HOST.get() {
        return Ok(h.clone());
    }
    let h = berth_cgroups::Hierarchy::detect()?;
    Ok(HOST.get_or_init(|| h).clone())
}
