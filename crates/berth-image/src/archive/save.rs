//! Saving images as a docker-archive (`docker load` input: `manifest.json`,
//! `repositories`, uncompressed layers under `blobs/sha256/`) or an OCI image layout
//! (blobs copied as they are, `index.json` with name annotations).

use std::collections::BTreeMap;
use std::io::Write;

use oci_spec::image::ImageManifest;
use serde::Serialize;

use super::docker::DockerEntry;
use super::writer::TarOut;
use super::{blob_name, ArchiveFormat, Desc, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{
    descriptor_digest, diff_ids, layer_compression, parse_config, parse_manifest, select_platform,
    Manifest, ManifestKind, Platform, MAX_MANIFEST_SIZE,
};
use crate::reference::Reference;
use crate::store::Store;
use crate::unpack::Compression;

/// Writes the images named by `refs` to `writer` in `format`. The output depends only
/// on the images and the order of `refs` (fixed mtimes, owners and modes).
pub fn save<W: Write>(
    store: &Store,
    refs: &[Reference],
    format: ArchiveFormat,
    writer: W,
) -> Result<()> {
    if refs.is_empty() {
        return Err(Error::Archive("no image to save".into()));
    }
    let mut out = TarOut::new(writer);
    match format {
        ArchiveFormat::Docker => save_docker(store, refs, &mut out)?,
        ArchiveFormat::OciLayout => save_oci(store, refs, &mut out)?,
    }
    out.finish()?;
    Ok(())
}

/// The manifest digest a reference names in the store.
pub(crate) fn resolve(store: &Store, r: &Reference) -> Result<Digest> {
    if let Some(d) = store.get_ref(&r.to_string())? {
        return Ok(d);
    }
    match r.digest() {
        Some(d) if store.exists(d) => Ok(d.clone()),
        _ => Err(Error::ImageNotFound(r.familiar())),
    }
}

fn read_manifest(store: &Store, digest: &Digest) -> Result<(ManifestKind, Manifest, u64)> {
    let bytes = store.read_verified(digest, MAX_MANIFEST_SIZE)?;
    let (kind, m) = parse_manifest(&bytes, None)?;
    Ok((kind, m, bytes.len() as u64))
}

/// The image manifest for this host: the manifest itself, or an index's entry.
fn image_manifest(store: &Store, digest: &Digest) -> Result<ImageManifest> {
    let mut digest = digest.clone();
    for _ in 0..4 {
        match read_manifest(store, &digest)?.1 {
            Manifest::Image(m) => return Ok(*m),
            Manifest::Index(index) => {
                digest = descriptor_digest(select_platform(&index, &Platform::host())?)?;
            }
        }
    }
    Err(Error::InvalidManifest("indexes nested too deep".into()))
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|source| Error::Json {
        context: "serialising archive metadata".into(),
        source,
    })
}

fn save_docker<W: Write>(store: &Store, refs: &[Reference], out: &mut TarOut<W>) -> Result<()> {
    // Images in first-seen order, each with the tags pointing at it.
    let mut images: Vec<(Digest, Vec<&Reference>)> = Vec::new();
    for r in refs {
        let digest = resolve(store, r)?;
        match images.iter_mut().find(|(d, _)| *d == digest) {
            Some((_, names)) => names.push(r),
            None => images.push((digest, vec![r])),
        }
    }
    out.dir("blobs")?;
    out.dir("blobs/sha256")?;
    let mut entries = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (digest, names) in &images {
        let m = image_manifest(store, digest)?;
        let config_digest = descriptor_digest(m.config())?;
        let config = store.read_verified(&config_digest, MAX_MANIFEST_SIZE)?;
        let want = diff_ids(&parse_config(&config)?)?;
        if want.len() != m.layers().len() {
            return Err(Error::InvalidManifest(format!(
                "config {config_digest} has {} diff_ids, the manifest {} layers",
                want.len(),
                m.layers().len()
            )));
        }
        out.blob(store, &config_digest)?;
        let mut layers = Vec::new();
        for (layer, diff_id) in m.layers().iter().zip(&want) {
            let digest = descriptor_digest(layer)?;
            match layer_compression(layer.media_type().as_ref())? {
                Compression::None if digest == *diff_id => out.blob(store, &digest)?,
                Compression::None => {
                    return Err(Error::DigestMismatch {
                        expected: diff_id.to_string(),
                        actual: digest.to_string(),
                    })
                }
                _ => out.decompressed_blob(store, &digest, diff_id)?,
            }
            layers.push(blob_name(diff_id));
        }
        let mut tags = Vec::new();
        for r in names {
            if let Some(tag) = r.tag() {
                // Fully qualified: docker normalises either form, podman reads a
                // short name as localhost/<name>.
                tags.push(format!("{}:{tag}", r.repository()));
                if let Some(top) = want.last() {
                    repositories
                        .entry(r.familiar_name())
                        .or_default()
                        .insert(tag.to_string(), top.hex().to_string());
                }
            }
        }
        entries.push(DockerEntry {
            config: blob_name(&config_digest),
            repo_tags: Some(tags),
            layers,
        });
    }
    out.bytes("manifest.json", &json(&entries)?)?;
    if !repositories.is_empty() {
        out.bytes("repositories", &json(&repositories)?)?;
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexOut<'a> {
    schema_version: u32,
    media_type: &'a str,
    manifests: Vec<Desc>,
}

fn save_oci<W: Write>(store: &Store, refs: &[Reference], out: &mut TarOut<W>) -> Result<()> {
    out.bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    out.dir("blobs")?;
    out.dir("blobs/sha256")?;
    let mut manifests = Vec::new();
    for r in refs {
        let digest = resolve(store, r)?;
        let (kind, size) = copy_tree(store, &digest, out, 0)?;
        let mut annotations = BTreeMap::new();
        annotations.insert(ANNOTATION_IMAGE_NAME.to_string(), r.to_string());
        if let Some(tag) = r.tag() {
            annotations.insert(ANNOTATION_REF_NAME.to_string(), tag.to_string());
        }
        manifests.push(Desc {
            media_type: kind.media_type().to_string(),
            digest,
            size,
            annotations: Some(annotations),
        });
    }
    let index = IndexOut {
        schema_version: 2,
        media_type: ManifestKind::OciIndex.media_type(),
        manifests,
    };
    out.bytes("index.json", &json(&index)?)
}

/// Copies a manifest and what it names (an index's absent manifests are skipped);
/// returns its kind and size.
fn copy_tree<W: Write>(
    store: &Store,
    digest: &Digest,
    out: &mut TarOut<W>,
    depth: usize,
) -> Result<(ManifestKind, u64)> {
    if depth > 4 {
        return Err(Error::InvalidManifest("indexes nested too deep".into()));
    }
    let (kind, manifest, size) = read_manifest(store, digest)?;
    match manifest {
        Manifest::Image(m) => {
            out.blob(store, &descriptor_digest(m.config())?)?;
            for layer in m.layers() {
                out.blob(store, &descriptor_digest(layer)?)?;
            }
        }
        Manifest::Index(index) => {
            for child in index.manifests() {
                let d = descriptor_digest(child)?;
                let known = ManifestKind::from_media_type(child.media_type().as_ref()).is_ok();
                if known && store.exists(&d) {
                    copy_tree(store, &d, out, depth + 1)?;
                }
            }
        }
    }
    out.blob(store, digest)?;
    Ok((kind, size))
}
