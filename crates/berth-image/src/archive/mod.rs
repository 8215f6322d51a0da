//! Image archives: `load` a docker-archive or OCI image layout tar (plain, gzip or
//! zstd) into the store, `save` images as either format, `import` a rootfs tarball
//! as a one-layer image, and `commit` a container's changes as a layer on its image.
//!
//! Loading is streamed: entries named `blobs/sha256/<hex>` go straight into the store
//! (verified against their name), every other entry is spooled to a temporary file in
//! the store's directory, and the images are assembled once the whole stream has been
//! read (tar entries may come in any order). Refs are set only after every image of
//! the archive has been checked, so a failed load sets none.

mod changes;
mod commit;
mod docker;
mod import;
mod names;
mod oci_layout;
mod save;
mod spool;
mod writer;

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::reference::Reference;
use crate::registry::progress::{NoProgress, Progress};
use crate::store::Store;

pub use changes::{apply_changes, SUPPORTED_CHANGES};
pub use commit::{commit, CommitOpts};
pub use import::import;
pub use save::save;

/// The annotation holding a full image name (containerd, docker 25+).
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// The OCI annotation holding the reference name (a tag, or a full name).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Media type of uncompressed OCI layers written by this module.
pub(crate) const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// An image that `load` or `import` put into the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedImage {
    /// The name the ref was set for, if the archive named the image.
    pub reference: Option<Reference>,
    /// The manifest (or index) the ref points to.
    pub manifest_digest: Digest,
    /// The image config (for an index: the one of the host's platform).
    pub config_digest: Digest,
}

/// The two archive formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// `docker save` / `docker load`: `manifest.json`, uncompressed layers.
    Docker,
    /// An OCI image layout: `oci-layout`, `index.json`, `blobs/sha256/...`.
    OciLayout,
}

/// Loads every image of a docker-archive or OCI layout tar stream (plain, gzip or
/// zstd) into `store` and sets a ref for each name it carries. An archive with both
/// `index.json` and `manifest.json` (docker 25+) is read as an OCI layout. On any
/// error no ref is set; blobs already verified may stay, temporary files do not.
pub fn load<R: Read>(reader: R, store: &Store) -> Result<Vec<LoadedImage>> {
    load_with_progress(reader, store, &NoProgress)
}

/// [`load`], reporting each layer's bytes to `progress` as they are read (docker's
/// `Loading layer` bars).
pub fn load_with_progress<R: Read>(
    reader: R,
    store: &Store,
    progress: &dyn Progress,
) -> Result<Vec<LoadedImage>> {
    let (_, input) = decompress(reader)?;
    let mut spool = spool::Spool::read(input, store, progress)?;
    let images = if spool.exists("index.json") {
        oci_layout::load(&mut spool)?
    } else if spool.exists("manifest.json") {
        docker::load(&mut spool, store)?
    } else {
        return Err(Error::Archive(
            "neither manifest.json (docker-archive) nor index.json (OCI layout) found".into(),
        ));
    };
    drop(spool);
    for image in &images {
        if let Some(r) = &image.reference {
            store.set_ref(&r.to_string(), &image.manifest_digest)?;
        }
    }
    Ok(images)
}

/// A descriptor as written into manifests and `index.json` (field order fixed).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Desc {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// An OCI image manifest as this module writes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OciManifest<'a> {
    pub schema_version: u32,
    pub media_type: &'a str,
    pub config: Desc,
    pub layers: Vec<Desc>,
}

pub(crate) use crate::unpack::decompress;

/// The digest a `blobs/sha256/<hex>` path names, if it is one.
pub(crate) fn blob_path_digest(name: &str) -> Option<Digest> {
    name.strip_prefix("blobs/sha256/")
        .and_then(|hex| Digest::from_hex(hex).ok())
}

/// The archive path of a blob.
pub(crate) fn blob_name(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}
