//! Image manifests, indexes and configs (OCI and Docker schema2): media type detection,
//! parsing and validation (platform choice for an index lives in `platform`).

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::unpack::Compression;

pub use crate::platform::{goarch, select_platform, Platform};

/// Manifests, indexes and configs larger than this are refused.
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;

/// Media type strings this crate knows.
pub mod media_types {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
}
use media_types as mt;

/// The four manifest formats handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    OciManifest,
    OciIndex,
    DockerManifest,
    DockerManifestList,
}

impl ManifestKind {
    /// Maps a media type (parameters after `;` ignored) to a kind.
    pub fn from_media_type(media_type: &str) -> Result<Self> {
        match strip_params(media_type) {
            mt::OCI_MANIFEST => Ok(Self::OciManifest),
            mt::OCI_INDEX => Ok(Self::OciIndex),
            mt::DOCKER_MANIFEST => Ok(Self::DockerManifest),
            mt::DOCKER_MANIFEST_LIST => Ok(Self::DockerManifestList),
            other => Err(Error::UnsupportedMediaType(other.to_string())),
        }
    }

    /// The canonical media type string.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::OciManifest => mt::OCI_MANIFEST,
            Self::OciIndex => mt::OCI_INDEX,
            Self::DockerManifest => mt::DOCKER_MANIFEST,
            Self::DockerManifestList => mt::DOCKER_MANIFEST_LIST,
        }
    }

    /// Whether this is a multi-platform index / manifest list.
    pub fn is_index(self) -> bool {
        matches!(self, Self::OciIndex | Self::DockerManifestList)
    }
}

/// A parsed manifest or index.
#[derive(Clone, Debug)]
pub enum Manifest {
    Image(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<IgnoredAny>,
    config: Option<IgnoredAny>,
    layers: Option<IgnoredAny>,
}

fn strip_params(media_type: &str) -> &str {
    media_type.split(';').next().unwrap_or("").trim()
}

fn check_size(len: usize) -> Result<()> {
    if len as u64 > MAX_MANIFEST_SIZE {
        return Err(Error::ManifestTooLarge {
            size: len as u64,
            limit: MAX_MANIFEST_SIZE,
        });
    }
    Ok(())
}

fn json_err(what: &str) -> impl FnOnce(serde_json::Error) -> Error + '_ {
    move |e| Error::InvalidManifest(format!("{what}: {e}"))
}

/// Detects the kind of a manifest from the transport's content type (if any and not a
/// generic one) and the document's own `mediaType` (or its shape when it has none).
pub fn detect_kind(bytes: &[u8], content_type: Option<&str>) -> Result<ManifestKind> {
    check_size(bytes.len())?;
    let probe: Probe = serde_json::from_slice(bytes).map_err(json_err("not a JSON manifest"))?;
    let declared = content_type
        .map(strip_params)
        .filter(|c| !matches!(*c, "" | "application/json" | "application/octet-stream"));
    if let Some(c) = declared {
        if c == mt::DOCKER_SCHEMA1
            || c.starts_with("application/vnd.docker.distribution.manifest.v1")
        {
            return Err(Error::UnsupportedMediaType(c.to_string()));
        }
    }
    if probe.schema_version != Some(2) {
        return Err(match probe.schema_version {
            Some(1) => Error::UnsupportedMediaType(mt::DOCKER_SCHEMA1.to_string()),
            v => Error::InvalidManifest(format!("schemaVersion {v:?}, expected 2")),
        });
    }
    let kind = match (declared, probe.media_type.as_deref()) {
        (Some(c), Some(m)) if strip_params(m) != c => {
            return Err(Error::InvalidManifest(format!(
                "content type {c:?} does not match mediaType {m:?}"
            )))
        }
        (Some(t), _) | (None, Some(t)) => ManifestKind::from_media_type(t)?,
        (None, None) if probe.manifests.is_some() => ManifestKind::OciIndex,
        (None, None) if probe.config.is_some() && probe.layers.is_some() => {
            ManifestKind::OciManifest
        }
        (None, None) => {
            return Err(Error::InvalidManifest(
                "no mediaType and neither manifests nor config/layers".to_string(),
            ))
        }
    };
    let shape_ok = if kind.is_index() {
        probe.manifests.is_some()
    } else {
        probe.config.is_some() && probe.layers.is_some()
    };
    if !shape_ok {
        return Err(Error::InvalidManifest(format!(
            "document does not have the fields of {}",
            kind.media_type()
        )));
    }
    Ok(kind)
}

/// Parses a manifest or index; image manifests must have a known config type and
/// layers of known (tar, tar+gzip, tar+zstd) media types.
pub fn parse_manifest(
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<(ManifestKind, Manifest)> {
    let kind = detect_kind(bytes, content_type)?;
    if kind.is_index() {
        let index: ImageIndex = serde_json::from_slice(bytes).map_err(json_err("index"))?;
        return Ok((kind, Manifest::Index(Box::new(index))));
    }
    let m: ImageManifest = serde_json::from_slice(bytes).map_err(json_err("manifest"))?;
    let config_type = m.config().media_type().to_string();
    if !matches!(config_type.as_str(), mt::OCI_CONFIG | mt::DOCKER_CONFIG) {
        return Err(Error::UnsupportedMediaType(config_type));
    }
    for layer in m.layers() {
        layer_compression(layer.media_type().as_ref())?;
    }
    Ok((kind, Manifest::Image(Box::new(m))))
}

/// Parses an image config (OCI or Docker, the same JSON).
pub fn parse_config(bytes: &[u8]) -> Result<ImageConfiguration> {
    check_size(bytes.len())?;
    serde_json::from_slice(bytes).map_err(json_err("image config"))
}

/// The config's `rootfs.diff_ids`, validated.
pub fn diff_ids(config: &ImageConfiguration) -> Result<Vec<Digest>> {
    config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| Digest::parse(d))
        .collect()
}

/// A descriptor's digest as this crate's (sha256-only) [`Digest`].
pub fn descriptor_digest(desc: &Descriptor) -> Result<Digest> {
    Digest::parse(desc.digest().as_ref())
}

/// The compression a layer media type declares.
pub fn layer_compression(media_type: &str) -> Result<Compression> {
    let t = strip_params(media_type);
    let base = t
        .strip_prefix("application/vnd.oci.image.layer.v1.")
        .or_else(|| t.strip_prefix("application/vnd.oci.image.layer.nondistributable.v1."))
        .or_else(|| t.strip_prefix("application/vnd.docker.image.rootfs.diff."))
        .or_else(|| t.strip_prefix("application/vnd.docker.image.rootfs.foreign.diff."));
    match base {
        Some("tar") => Ok(Compression::None),
        Some("tar+gzip" | "tar.gzip") => Ok(Compression::Gzip),
        Some("tar+zstd" | "tar.zstd") => Ok(Compression::Zstd),
        _ => Err(Error::UnsupportedMediaType(t.to_string())),
    }
}
