//! `berth net`: berth's network stack without the daemon, netavark-style. A network and an
//! endpoint as JSON on stdin, a netns path as argument, the attachment as JSON on stdout.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use berth_net::Request;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct NetArgs {
    /// The nftables table (inet family) berth keeps its rules in
    #[arg(long, global = true, default_value = berth_net::DEFAULT_TABLE)]
    table: String,
    #[command(subcommand)]
    cmd: NetCmd,
}

#[derive(Subcommand)]
enum NetCmd {
    /// Attach a netns to a bridge network (request JSON on stdin)
    Setup {
        /// The container's network namespace (/proc/PID/ns/net, /run/netns/NAME)
        netns: PathBuf,
    },
    /// Detach it again (the same request JSON on stdin)
    Teardown {
        /// Delete the veth now instead of letting it go with the netns (slow: RCU)
        #[arg(long)]
        remove_link: bool,
    },
    /// Remove a network's bridge and firewall elements (network JSON on stdin)
    RemoveNetwork,
    /// Create or repair berth's nftables table and rules
    ApplyFirewall,
}

fn stdin_json<T: serde::de::DeserializeOwned>() -> Result<T> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("reading stdin")?;
    serde_json::from_str(&s).context("parsing the JSON on stdin")
}

pub fn main(args: NetArgs) -> Result<()> {
    match args.cmd {
        NetCmd::Setup { netns } => {
            let req: Request = stdin_json()?;
            let ns = berth_net::netns::open(&netns)?;
            use std::os::fd::AsFd;
            let att = berth_net::setup(&req, ns.as_fd(), &args.table)?;
            println!("{}", serde_json::to_string_pretty(&att)?);
        }
        NetCmd::Teardown { remove_link } => {
            let req: Request = stdin_json()?;
            berth_net::teardown(&req, &args.table, remove_link)?;
        }
        NetCmd::RemoveNetwork => {
            let net: berth_net::Network = stdin_json()?;
            berth_net::remove_network(&net, &args.table)?;
        }
        NetCmd::ApplyFirewall => berth_net::apply_firewall(&args.table)?,
    }
    Ok(())
}
