//! `import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image, with
//! the host's platform, `--change` instructions applied, a history entry.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::{apply_changes, decompress, Desc, LoadedImage, OciManifest, OCI_LAYER_TAR};
use crate::error::{Error, Result};
use crate::manifest::{media_types, parse_config};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::store::Store;

/// Imports the rootfs tar read from `reader` as a one-layer image (the layer stored
/// uncompressed, so its digest is its diff_id) and, when `reference` is given, points
/// that name at it. `changes` are Dockerfile instructions (see [`apply_changes`]);
/// they are checked before anything is stored.
pub fn import<R: Read>(
    reader: R,
    store: &Store,
    reference: Option<&Reference>,
    changes: &[String],
) -> Result<LoadedImage> {
    let mut container = Map::new();
    apply_changes(&mut container, changes)?;

    let (_, input) = decompress(reader)?;
    let (layer, size) = store.put_stream(input, None)?;
    check_tar(store, &layer, size)?;

    let created = rfc3339(now_secs());
    let platform = Platform::host();
    let mut config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "created": created,
        "config": Value::Object(container),
        "rootfs": {"type": "layers", "diff_ids": [layer.to_string()]},
        "history": [{
            "created": created,
            "created_by": "berth import",
            "comment": "Imported from tarball",
        }],
    });
    if let (Some(v), Value::Object(m)) = (platform.variant, &mut config) {
        m.insert("variant".into(), Value::String(v));
    }
    let layers = vec![Desc {
        media_type: OCI_LAYER_TAR.into(),
        digest: layer,
        size,
        annotations: None,
    }];
    store_image(store, &config, layers, reference)
}

/// Store an image: its config (checked), a manifest of it and `layers`, and `reference`
/// pointed at the manifest.
pub(crate) fn store_image(
    store: &Store,
    config: &Value,
    layers: Vec<Desc>,
    reference: Option<&Reference>,
) -> Result<LoadedImage> {
    let config = serde_json::to_vec(config).map_err(|source| Error::Json {
        context: "serialising the image config".into(),
        source,
    })?;
    parse_config(&config)?;
    let config_digest = store.put_bytes(&config)?;
    let manifest = OciManifest {
        schema_version: 2,
        media_type: media_types::OCI_MANIFEST,
        config: Desc {
            media_type: media_types::OCI_CONFIG.into(),
            digest: config_digest.clone(),
            size: config.len() as u64,
            annotations: None,
        },
        layers,
    };
    let manifest = serde_json::to_vec(&manifest).map_err(|source| Error::Json {
        context: "serialising the manifest".into(),
        source,
    })?;
    let manifest_digest = store.put_bytes(&manifest)?;
    if let Some(r) = reference {
        store.set_ref(&r.to_string(), &manifest_digest)?;
    }
    Ok(LoadedImage {
        reference: reference.cloned(),
        manifest_digest,
        config_digest,
    })
}

/// The stored layer must be a readable tar (headers only; contents are checked when
/// the layer is unpacked).
fn check_tar(store: &Store, layer: &crate::digest::Digest, size: u64) -> Result<()> {
    let bad = |e: String| Error::Layer(format!("imported rootfs is not a tar archive: {e}"));
    if size == 0 {
        return Err(bad("empty input".into()));
    }
    let mut archive = tar::Archive::new(store.get(layer)?);
    let entries = archive
        .entries_with_seek()
        .map_err(|e| bad(e.to_string()))?;
    for entry in entries {
        entry.map_err(|e| bad(e.to_string()))?;
    }
    Ok(())
}

/// Seconds since the epoch: `SOURCE_DATE_EPOCH` if set, else the clock.
pub(crate) fn now_secs() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time.
pub(crate) fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
