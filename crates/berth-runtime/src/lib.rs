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
