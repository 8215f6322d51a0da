//! Links berth as a position-dependent executable. With PIE the loader relocates, and so
//! faults in and dirties, each of the ~450 KiB of relocated read-only data on every start:
//! about a millisecond of each `berth runtime run` and each CLI call here. See
//! crates/berth-shim/build.rs for the shim's memory side of the same choice.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
