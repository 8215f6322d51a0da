//! berth-cli: docker's commands and flags, talking to the berth daemon over the Docker Engine API.

use clap::{Args, Subcommand};

/// Options before the command, as docker has them.
#[derive(Args)]
pub struct GlobalArgs {
    /// Daemon socket to connect to (unix:///PATH); also BERTH_HOST
    #[arg(short = 'H', long = "host", env = "BERTH_HOST", global = true)]
    pub host: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Show the berth version information
    Version,
}

/// Run one command; the process exit code.
pub fn main(_global: GlobalArgs, cmd: Command) -> i32 {
    match cmd {
        Command::Version => 0,
    }
}
