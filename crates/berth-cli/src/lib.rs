//! berth-cli: docker's commands and flags, talking to the berth daemon over the Docker Engine
//! API on a unix socket.
//!
//! The `berth` binary flattens [`Command`] into its own subcommands, takes [`GlobalArgs`], and
//! calls [`main`].

mod cli;
mod cmd;
mod daemon;
mod error;
mod format;
mod hijack;
mod http;
mod humanize;
pub mod lazy;
mod opts;
mod output;
mod reference;
mod stream;
mod tabwriter;
mod template;
mod term;

use clap::Args;

pub use cli::Command;
pub use daemon::DEFAULT_HOST;
pub use error::{Error, Result};

/// Options before the command, as docker has them.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Daemon socket to connect to (unix:///PATH); also BERTH_HOST
    #[arg(short = 'H', long = "host", env = "BERTH_HOST", global = true)]
    pub host: Option<String>,
}

/// Runs one command; the process exit code. Errors are printed on stderr as docker prints
/// them (`Error response from daemon: ...`).
pub fn main(global: GlobalArgs, cmd: Command) -> i32 {
    let (host, autostart) = match global.host.filter(|h| !h.is_empty()) {
        Some(h) => (h, false),
        None => (DEFAULT_HOST.to_string(), true),
    };
    let result = http::Client::new(&host, autostart).and_then(|client| cli::dispatch(&client, cmd));
    match result {
        Ok(code) => code,
        Err(Error::Exit(code)) => code,
        Err(e) => {
            output::errln(&e.to_string());
            e.exit_code()
        }
    }
}
