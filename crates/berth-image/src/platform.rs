//! Platforms (os/architecture/variant in Go's names) and choosing an index entry for one.

use std::fmt;

use oci_spec::image::{Descriptor, ImageIndex};

use crate::error::{Error, Result};
use crate::manifest::ManifestKind;

/// An os/architecture/variant triple with Go's names (`linux/amd64`, `linux/arm/v7`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// linux and this binary's architecture in Go's naming.
    pub fn host() -> Self {
        let architecture = goarch(std::env::consts::ARCH).to_string();
        let variant = (architecture == "arm").then(|| "v7".to_string());
        Self {
            os: "linux".to_string(),
            architecture,
            variant,
        }
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut parts = s.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(os), Some(arch), variant, None) if !os.is_empty() && !arch.is_empty() => {
                Ok(Self {
                    os: os.to_string(),
                    architecture: goarch(arch).to_string(),
                    variant: variant.filter(|v| !v.is_empty()).map(str::to_string),
                })
            }
            _ => Err(Error::InvalidManifest(format!("bad platform {s:?}"))),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

/// Maps a Rust (`std::env::consts::ARCH`) or uname architecture name to GOARCH.
pub fn goarch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" | "i386" | "i686" => "386",
        "powerpc64" | "powerpc64le" => "ppc64le",
        "loongarch64" => "loong64",
        "mips64" => "mips64le",
        other => other,
    }
}

fn norm_variant<'a>(arch: &str, variant: Option<&'a str>) -> Option<&'a str> {
    match (arch, variant) {
        ("arm64", Some("v8")) => None,
        (_, v) => v,
    }
}

/// The entry of `index` for `want`: same os and architecture, the same variant
/// preferred, any variant accepted when `want` names none. Entries that are not
/// manifests (attestations, artifacts) never match.
pub fn select_platform<'a>(index: &'a ImageIndex, want: &Platform) -> Result<&'a Descriptor> {
    let want_variant = norm_variant(&want.architecture, want.variant.as_deref());
    let mut best: Option<(u8, &Descriptor)> = None;
    for desc in index.manifests() {
        let Some(p) = desc.platform() else { continue };
        if ManifestKind::from_media_type(desc.media_type().as_ref()).is_err() {
            continue;
        }
        let is_attestation = desc
            .annotations()
            .as_ref()
            .is_some_and(|a| a.contains_key("vnd.docker.reference.type"));
        let arch = p.architecture().to_string();
        if is_attestation
            || arch == "unknown"
            || p.os().to_string() != want.os
            || goarch(&arch) != want.architecture
        {
            continue;
        }
        let variant = norm_variant(goarch(&arch), p.variant().as_deref());
        let rank = match (want_variant, variant) {
            (w, v) if w == v => 3,
            (None, Some(_)) | (Some(_), None) => 1,
            _ => continue,
        };
        if best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, desc));
        }
    }
    best.map(|(_, d)| d)
        .ok_or_else(|| Error::NoMatchingPlatform(want.to_string()))
}
