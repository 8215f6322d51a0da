//! `berth daemon`: dockerd-style flags, then the API server.

use clap::Args;

#[derive(Args)]
pub struct DaemonArgs {}

pub fn main(_args: DaemonArgs) -> anyhow::Result<()> {
    Ok(())
}
