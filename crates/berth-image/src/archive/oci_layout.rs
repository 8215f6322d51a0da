//! OCI image layout loading: `oci-layout` and `index.json` name the manifests (or
//! indexes) kept under `blobs/sha256/`; every blob is checked against its digest and
//! size, and each entry's name comes from its annotations.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::spool::Spool;
use super::{Desc, LoadedImage, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{
    descriptor_digest, diff_ids, parse_config, parse_manifest, select_platform, Manifest,
    ManifestKind, Platform, MAX_MANIFEST_SIZE,
};
use crate::reference::Reference;

/// Nesting of indexes accepted below `index.json`.
const MAX_DEPTH: usize = 4;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layout {
    image_layout_version: String,
}

#[derive(Deserialize)]
struct IndexJson {
    manifests: Vec<Desc>,
}

/// Loads every entry of `index.json`.
pub(crate) fn load(spool: &mut Spool) -> Result<Vec<LoadedImage>> {
    let layout = spool
        .read_small("oci-layout")?
        .ok_or_else(|| Error::Archive("OCI layout without an oci-layout file".into()))?;
    let layout: Layout =
        serde_json::from_slice(&layout).map_err(|e| Error::Archive(format!("oci-layout: {e}")))?;
    if layout.image_layout_version != "1.0.0" {
        return Err(Error::Archive(format!(
            "unsupported imageLayoutVersion {:?}",
            layout.image_layout_version
        )));
    }
    let bytes = spool
        .read_small("index.json")?
        .ok_or_else(|| Error::Archive("index.json is missing".into()))?;
    // Validates schemaVersion and the media type, if the document has one.
    let (kind, _) = parse_manifest(&bytes, None)?;
    if !kind.is_index() {
        return Err(Error::InvalidManifest("index.json is not an index".into()));
    }
    let index: IndexJson = serde_json::from_slice(&bytes)
        .map_err(|e| Error::InvalidManifest(format!("index.json: {e}")))?;
    if index.manifests.is_empty() {
        return Err(Error::Archive("index.json lists no image".into()));
    }
    let mut out = Vec::new();
    for desc in &index.manifests {
        ManifestKind::from_media_type(&desc.media_type)?;
        let config_digest = check_manifest(spool, desc, 0)?.ok_or_else(|| {
            Error::Archive(format!("no manifest of index {} is present", desc.digest))
        })?;
        out.push(LoadedImage {
            reference: reference(desc.annotations.as_ref())?,
            manifest_digest: desc.digest.clone(),
            config_digest,
        });
    }
    Ok(out)
}

/// The image name an `index.json` entry carries: `io.containerd.image.name`, else
/// `org.opencontainers.image.ref.name` when it is a full name (a bare tag names no
/// repository, so the image is loaded without a ref).
fn reference(annotations: Option<&BTreeMap<String, String>>) -> Result<Option<Reference>> {
    let Some(a) = annotations else {
        return Ok(None);
    };
    if let Some(name) = a.get(ANNOTATION_IMAGE_NAME) {
        return Reference::parse(name).map(Some);
    }
    match a.get(ANNOTATION_REF_NAME) {
        Some(name) if name.contains('/') || name.contains(':') => Reference::parse(name).map(Some),
        _ => Ok(None),
    }
}

/// Checks a blob named by a descriptor is present with the declared size.
fn check_blob(spool: &mut Spool, digest: &Digest, size: u64) -> Result<()> {
    let actual = spool.ensure_blob(digest)?;
    if actual != size {
        return Err(Error::SizeMismatch {
            expected: size,
            actual,
        });
    }
    Ok(())
}

/// Checks a manifest and everything it names; returns the config digest (for an
/// index: the host platform's, else the first present). `Ok(None)` for an index none
/// of whose manifests is present.
fn check_manifest(spool: &mut Spool, desc: &Desc, depth: usize) -> Result<Option<Digest>> {
    if desc.size > MAX_MANIFEST_SIZE {
        return Err(Error::ManifestTooLarge {
            size: desc.size,
            limit: MAX_MANIFEST_SIZE,
        });
    }
    check_blob(spool, &desc.digest, desc.size)?;
    let bytes = spool
        .store()
        .read_verified(&desc.digest, MAX_MANIFEST_SIZE)?;
    match parse_manifest(&bytes, Some(&desc.media_type))?.1 {
        Manifest::Image(m) => {
            let config = m.config();
            let config_digest = descriptor_digest(config)?;
            check_blob(spool, &config_digest, config.size())?;
            let config_bytes = spool
                .store()
                .read_verified(&config_digest, MAX_MANIFEST_SIZE)?;
            let want = diff_ids(&parse_config(&config_bytes)?)?;
            if want.len() != m.layers().len() {
                return Err(Error::InvalidManifest(format!(
                    "config {config_digest} has {} diff_ids, manifest {} has {} layers",
                    want.len(),
                    desc.digest,
                    m.layers().len()
                )));
            }
            for layer in m.layers() {
                check_blob(spool, &descriptor_digest(layer)?, layer.size())?;
            }
            Ok(Some(config_digest))
        }
        Manifest::Index(index) => {
            if depth >= MAX_DEPTH {
                return Err(Error::InvalidManifest("indexes nested too deep".into()));
            }
            let preferred = select_platform(&index, &Platform::host())
                .ok()
                .map(descriptor_digest)
                .transpose()?;
            let mut first = None;
            let mut host = None;
            for child in index.manifests() {
                // Entries of unknown types (artifacts) and absent platforms are skipped.
                if ManifestKind::from_media_type(child.media_type().as_ref()).is_err() {
                    continue;
                }
                let child = Desc {
                    media_type: child.media_type().to_string(),
                    digest: descriptor_digest(child)?,
                    size: child.size(),
                    annotations: None,
                };
                if !spool.has_blob(&child.digest) {
                    continue;
                }
                let Some(config) = check_manifest(spool, &child, depth + 1)? else {
                    continue;
                };
                if preferred.as_ref() == Some(&child.digest) {
                    host = Some(config.clone());
                }
                first.get_or_insert(config);
            }
            Ok(host.or(first))
        }
    }
}
