//! The `berth` command: docker's commands talking to the daemon (`berth run`, `berth ps`, ...),
//! `berth daemon`, `berth runtime ...` (a runc-compatible OCI runtime) and `berth net ...`
//! (the network stack without a daemon).

mod daemon_cmd;
mod net_cmd;
mod runtime_cmd;

use berth_cli::lazy::Lazy;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "berth", version, about = "berth: a fast container engine")]
struct Cli {
    #[command(flatten)]
    global: berth_cli::GlobalArgs,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    #[command(about = RUNTIME_ABOUT)]
    Runtime(Lazy<Box<runtime_cmd::RuntimeArgs>>),
    /// Network stack without the daemon: attach a netns to a bridge network (JSON in/out)
    Net(Lazy<net_cmd::NetArgs>),
    /// Run the engine: the Docker Engine API on a unix socket
    Daemon(Box<daemon_cmd::DaemonArgs>),
    #[command(flatten)]
    Docker(Box<berth_cli::Command>),
}

const RUNTIME_ABOUT: &str =
    "OCI runtime with runc's command line (create, start, state, kill, delete, run, exec...)";

// `berth runtime ...` is parsed on its own: building the whole command tree (docker's commands
// with all their flags) costs about a millisecond, a tenth of a runtime `run`.
#[derive(Parser)]
#[command(name = "berth runtime", version, about = RUNTIME_ABOUT)]
struct RuntimeCli {
    #[command(flatten)]
    args: runtime_cmd::RuntimeArgs,
}

fn main() {
    let mut argv = std::env::args_os();
    if argv.nth(1).is_some_and(|a| a == "runtime") {
        let cli = RuntimeCli::parse_from(std::iter::once("berth runtime".into()).chain(argv));
        std::process::exit(runtime_cmd::main(cli.args));
    }
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Runtime(args) => std::process::exit(runtime_cmd::main(*args.0)),
        Cmd::Net(args) => {
            if let Err(e) = net_cmd::main(args.0) {
                eprintln!("berth net: {e:#}");
                std::process::exit(1);
            }
        }
        Cmd::Daemon(args) => {
            if let Err(e) = daemon_cmd::main(*args) {
                eprintln!("berth daemon: {e:#}");
                std::process::exit(1);
            }
        }
        Cmd::Docker(cmd) => std::process::exit(berth_cli::main(cli.global, *cmd)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command and subcommand builds (clap checks each one in debug builds only when it
    /// is built, and deferred flags are built only when used) and shows its help.
    #[test]
    fn every_subcommand_builds_and_has_help() {
        let top = Cli::command();
        let mut paths: Vec<Vec<String>> = Vec::new();
        for sc in top.get_subcommands() {
            paths.push(vec![sc.get_name().to_string()]);
            for sub in sc.get_subcommands() {
                paths.push(vec![sc.get_name().to_string(), sub.get_name().to_string()]);
            }
        }
        assert!(paths.len() > 60, "{paths:?}");
        for p in paths {
            let mut argv = vec!["berth".to_string()];
            argv.extend(p.iter().cloned());
            argv.push("--help".into());
            let e = match Cli::try_parse_from(&argv) {
                Err(e) => e,
                Ok(_) => panic!("{argv:?} parsed"),
            };
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp,
                "{argv:?}: {e}"
            );
        }
    }
}
