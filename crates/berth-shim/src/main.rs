//! The `berth-shim` binary (see docs/shim.md): one small process per container or exec
//! process; everything it does lives in [`shim`]. Run as `docker-init` (bind-mounted into a
//! container started with `--init`), it is that container's pid 1 instead ([`init`]).

mod init;
mod shim;

#[global_allocator]
static ALLOC: shim::arena::ShimAlloc = shim::arena::ShimAlloc;

fn main() {
    let mut args = std::env::args_os();
    let as_init = args
        .next()
        .map(std::path::PathBuf::from)
        .is_some_and(|p| p.file_name().is_some_and(|n| n == init::NAME));
    if as_init {
        std::process::exit(init::main(args.collect()));
    }
    std::process::exit(shim::main());
}
