//! `commit`: a container's changes, as a layer tar, stacked on its image as a new image:
//! the parent's layers and history kept, the container's config (with `--change`s) as the
//! new image's defaults, and a history entry for the new layer.

use std::io::Read;

use serde_json::{json, Map, Value};

use super::import::{now_secs, rfc3339, store_image};
use super::{apply_changes, Desc, LoadedImage, OCI_LAYER_TAR};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{parse_manifest, Manifest};
use crate::platform::{select_platform, Platform};
use crate::reference::Reference;
use crate::store::Store;

const MAX_MANIFEST: u64 = 4 << 20;
const MAX_CONFIG: u64 = 8 << 20;

/// What the new image says of itself.
pub struct CommitOpts<'a> {
    pub reference: Option<&'a Reference>,
    /// The container's config (docker's `Config`): the new image's defaults.
    pub config: Map<String, Value>,
    /// Dockerfile instructions applied to `config` (see [`apply_changes`]).
    pub changes: &'a [String],
    pub comment: &'a str,
    pub author: &'a str,
    /// What made the layer, for the history (the container's command).
    pub created_by: &'a str,
    /// The container's id.
    pub container: &'a str,
}

/// Store the layer tar read from `layer` (uncompressed, so its digest is its diff_id) on
/// top of the image whose manifest is `parent`, and point `o.reference` at the result.
/// The changes are checked before anything is stored.
pub fn commit<R: Read>(
    store: &Store,
    parent: &Digest,
    layer: R,
    o: &CommitOpts,
) -> Result<LoadedImage> {
    let mut container = o.config.clone();
    apply_changes(&mut container, o.changes)?;
    let (layers, mut config) = parent_image(store, parent)?;
    let (digest, size) = store.put_stream(layer, None)?;

    let created = rfc3339(now_secs());
    let mut step = json!({"created": created, "created_by": o.created_by});
    if !o.comment.is_empty() {
        step["comment"] = json!(o.comment);
    }
    if !o.author.is_empty() {
        step["author"] = json!(o.author);
        config["author"] = json!(o.author);
    }
    config["created"] = json!(created);
    config["container"] = json!(o.container);
    config["config"] = Value::Object(container);
    push(&mut config["rootfs"]["diff_ids"], json!(digest.to_string()));
    push(&mut config["history"], step);
    let mut all = layers;
    all.push(Desc {
        media_type: OCI_LAYER_TAR.into(),
        digest,
        size,
        annotations: None,
    });
    store_image(store, &config, all, o.reference)
}

fn push(list: &mut Value, item: Value) {
    match list.as_array_mut() {
        Some(a) => a.push(item),
        None => *list = json!([item]),
    }
}

/// The parent's layer descriptors and its config (the host's platform of an index).
fn parent_image(store: &Store, parent: &Digest) -> Result<(Vec<Desc>, Value)> {
    let bytes = store.read_verified(parent, MAX_MANIFEST)?;
    let m = match parse_manifest(&bytes, None)?.1 {
        Manifest::Image(m) => m,
        Manifest::Index(idx) => {
            let d = select_platform(&idx, &Platform::host())?;
            let child = Digest::parse(d.digest().as_ref())?;
            match parse_manifest(&store.read_verified(&child, MAX_MANIFEST)?, None)?.1 {
                Manifest::Image(m) => m,
                Manifest::Index(_) => {
                    return Err(Error::InvalidManifest("nested image index".into()))
                }
            }
        }
    };
    let layers = m
        .layers()
        .iter()
        .map(|l| {
            Ok(Desc {
                media_type: l.media_type().to_string(),
                digest: Digest::parse(l.digest().as_ref())?,
                size: l.size(),
                annotations: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let config_digest = Digest::parse(m.config().digest().as_ref())?;
    let config: Value = serde_json::from_slice(&store.read_verified(&config_digest, MAX_CONFIG)?)
        .map_err(|source| Error::Json {
        context: "reading the parent image's config".into(),
        source,
    })?;
    Ok((layers, config))
}
