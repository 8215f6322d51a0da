//! The `berth` command: `berth runtime ...` (a runc-compatible OCI runtime) and
//! `berth net ...` (the network stack without a daemon).

mod net_cmd;
mod runtime_cmd;

use clap::Parser;

#[derive(Parser)]
#[command(name = "berth", version, about = "berth: a fast container engine")]
enum Cli {
    /// OCI runtime with runc's command line (create, start, state, kill, delete, run, exec...)
    Runtime(Box<runtime_cmd::RuntimeArgs>),
    /// Network stack without the daemon: attach a netns to a bridge network (JSON in/out)
    Net(net_cmd::NetArgs),
}

fn main() {
    match Cli::parse() {
        Cli::Runtime(args) => std::process::exit(runtime_cmd::main(*args)),
        Cli::Net(args) => {
            if let Err(e) = net_cmd::main(args) {
                eprintln!("berth net: {e:#}");
                std::process::exit(1);
            }
        }
    }
}
