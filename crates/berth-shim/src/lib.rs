//! berth-shim: the per-container parent process (see docs/shim.md) and the client the engine
//! uses to talk to it: the wire types, `spawn_start` / `spawn_exec`, a blocking [`Client`],
//! and [`read_exit`].

mod client;
mod error;
pub mod protocol;
mod spawn;

pub use client::{start_wait, wait_reply, Client};
pub use error::{Context, Error, Result};
pub use protocol::{read_exit, ExitInfo, Reply, Request};
pub use spawn::{default_shim_binary, spawn_exec, spawn_start, ExecOpts, StartOpts};
