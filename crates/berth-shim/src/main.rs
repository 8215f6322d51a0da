//! The `berth-shim` binary (see docs/shim.md).
fn main() {}
