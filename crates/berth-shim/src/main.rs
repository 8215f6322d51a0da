//! The `berth-shim` binary (see docs/shim.md): one small process per container or exec
//! process; everything it does lives in [`shim`].

mod shim;

#[global_allocator]
static ALLOC: shim::arena::ShimAlloc = shim::arena::ShimAlloc;

fn main() {
    std::process::exit(shim::main());
}
