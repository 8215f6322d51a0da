//! Links the shim as a position-dependent executable: with PIE the loader must relocate (and so
//! dirty) every page of its read-only relocated data in each shim, about 256 KiB of private
//! memory per container; without it those pages stay clean and shared between all shims.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
