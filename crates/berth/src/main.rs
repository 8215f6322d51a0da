//! The `berth` command. For now: `berth runtime ...`, a runc-compatible OCI runtime.

mod runtime_cmd;

use clap::Parser;

#[derive(Parser)]
#[command(name = "berth", version, about = "berth: a fast container engine")]
enum Cli {
    /// OCI runtime with runc's command line (create, start, state, kill, delete, run, exec...)
    Runtime(runtime_cmd::RuntimeArgs),
}

fn main() {
    let Cli::Runtime(args) = Cli::parse();
    std::process::exit(runtime_cmd::main(args));
}
