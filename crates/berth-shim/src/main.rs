//! The `berth-shim` binary (see docs/shim.md): one small process per container or exec
//! process; everything it does lives in [`shim`].

mod shim;

fn main() {
    std::process::exit(shim::main());
}
