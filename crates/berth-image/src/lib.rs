//! berth-image: the OCI image store. Image references, sha256 digests, a
//! content-addressed blob store with a refs index, manifest/index/config parsing,
//! safe layer unpacking into snapshots keyed by chain id, and overlayfs mounts.

pub mod archive;
pub mod digest;
pub mod error;
mod fsops;
pub mod manifest;
mod parallel;
pub mod platform;
pub mod reference;
pub mod registry;
pub mod snapshot;
pub mod store;
pub mod unpack;

pub use archive::{ArchiveFormat, LoadedImage};
pub use digest::{Digest, Verifier};
pub use error::{Error, Result};
pub use fsops::OPAQUE_XATTR;
pub use manifest::{Manifest, ManifestKind, Platform};
pub use parallel::run_parallel;
pub use reference::Reference;
pub use registry::{Credentials, PulledImage, PushedImage, Registry};
pub use snapshot::{
    chain_id, chain_ids, mount_overlay, mount_overlay_volatile, unmount, Applied, Snapshots,
};
pub use store::Store;
pub use unpack::{unpack_layer, Compression, Unpacked};
