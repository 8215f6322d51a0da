//! docker-archive (`docker save`) loading: `manifest.json` lists each image's config,
//! tags and layers (`<id>/layer.tar`, `<hex>.tar` or `blobs/sha256/<hex>`); layers
//! are stored uncompressed (digest = diff_id) under a new OCI manifest.

use serde::{Deserialize, Serialize};

use super::spool::Spool;
use super::{blob_path_digest, Desc, LoadedImage, OciManifest, OCI_LAYER_TAR};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{diff_ids, media_types, parse_config};
use crate::reference::Reference;
use crate::store::Store;
use crate::unpack::Compression;

/// One entry of a docker-archive's `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    pub layers: Vec<String>,
}

/// Assembles every image listed in `manifest.json`.
pub(crate) fn load(spool: &mut Spool, store: &Store) -> Result<Vec<LoadedImage>> {
    let bytes = spool
        .read_small("manifest.json")?
        .ok_or_else(|| Error::Archive("manifest.json is missing".into()))?;
    let entries: Vec<DockerEntry> = serde_json::from_slice(&bytes)
        .map_err(|e| Error::InvalidManifest(format!("manifest.json: {e}")))?;
    if entries.is_empty() {
        return Err(Error::Archive("manifest.json lists no image".into()));
    }
    let mut out = Vec::new();
    for entry in &entries {
        let (manifest_digest, config_digest) = load_image(spool, store, entry)?;
        let tags = entry.repo_tags.as_deref().unwrap_or_default();
        if tags.is_empty() {
            out.push(LoadedImage {
                reference: None,
                manifest_digest: manifest_digest.clone(),
                config_digest: config_digest.clone(),
            });
        }
        for tag in tags {
            out.push(LoadedImage {
                reference: Some(Reference::parse(tag)?),
                manifest_digest: manifest_digest.clone(),
                config_digest: config_digest.clone(),
            });
        }
    }
    Ok(out)
}

/// The digest a config's archive name claims: `blobs/sha256/<hex>` or `<hex>.json`.
fn named_digest(name: &str) -> Option<Digest> {
    blob_path_digest(name).or_else(|| {
        name.strip_suffix(".json")
            .and_then(|hex| Digest::from_hex(hex).ok())
    })
}

fn load_image(spool: &mut Spool, store: &Store, entry: &DockerEntry) -> Result<(Digest, Digest)> {
    let config = spool.read_small(&entry.config)?.ok_or_else(|| {
        Error::Archive(format!(
            "config {:?} listed in manifest.json is missing",
            entry.config
        ))
    })?;
    let config_digest = Digest::of_bytes(&config);
    if let Some(named) = named_digest(&entry.config) {
        if named != config_digest {
            return Err(Error::DigestMismatch {
                expected: named.to_string(),
                actual: config_digest.to_string(),
            });
        }
    }
    let want = diff_ids(&parse_config(&config)?)?;
    if want.len() != entry.layers.len() {
        return Err(Error::InvalidManifest(format!(
            "config {} has {} diff_ids but manifest.json lists {} layers",
            config_digest,
            want.len(),
            entry.layers.len()
        )));
    }
    let mut layers = Vec::with_capacity(want.len());
    for (name, diff_id) in entry.layers.iter().zip(&want) {
        let (mut digest, mut size) = spool.store_file(name)?.ok_or_else(|| {
            Error::Archive(format!("layer {name:?} listed in manifest.json is missing"))
        })?;
        if digest != *diff_id && spool.blob_compression(&digest)? != Compression::None {
            (digest, size) = spool.decompress_blob(&digest)?;
        }
        if digest != *diff_id {
            return Err(Error::DigestMismatch {
                expected: diff_id.to_string(),
                actual: digest.to_string(),
            });
        }
        layers.push(Desc {
            media_type: OCI_LAYER_TAR.to_string(),
            digest,
            size,
            annotations: None,
        });
    }
    let stored = store.put_bytes(&config)?;
    debug_assert_eq!(stored, config_digest);
    let manifest = OciManifest {
        schema_version: 2,
        media_type: media_types::OCI_MANIFEST,
        config: Desc {
            media_type: media_types::OCI_CONFIG.to_string(),
            digest: config_digest.clone(),
            size: config.len() as u64,
            annotations: None,
        },
        layers,
    };
    let bytes = serde_json::to_vec(&manifest).map_err(|source| Error::Json {
        context: "serialising a manifest".into(),
        source,
    })?;
    Ok((store.put_bytes(&bytes)?, config_digest))
}
