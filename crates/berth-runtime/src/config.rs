//! Loading a bundle's config.json and checking it before anything is created.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

/// The OCI spec types, re-exported for the CLI.
pub mod oci {
    pub use oci_spec::runtime::*;
}

/// A validated bundle: the spec plus the absolute paths derived from it.
pub struct Bundle {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
}

/// Read and validate `<bundle>/config.json`.
pub fn load_bundle(dir: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| Error::Config(format!("bundle {}: {e}", dir.display())))?;
    let path = dir.join("config.json");
    let text = std::fs::read(&path)
        .map_err(|e| Error::Config(format!("reading {}: {e}", path.display())))?;
    let spec = parse_spec(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::Config("config.json has no root (rootfs) section".into()))?;
    let rootfs = dir.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|e| Error::Config(format!("rootfs {}: {e}", rootfs.display())))?;
    if !rootfs.is_dir() {
        return Err(Error::Config(format!(
            "rootfs {} is not a directory",
            rootfs.display()
        )));
    }
    validate(&spec)?;
    Ok(Bundle { dir, rootfs, spec })
}

/// Parse config.json text, turning serde's message into one that names the problem.
pub fn parse_spec(text: &[u8]) -> std::result::Result<Spec, String> {
    serde_json::from_slice::<Spec>(text).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("unknown variant") && msg.contains("cgroup") && msg.contains("uts") {
            format!("unknown namespace type ({msg})")
        } else if e.is_syntax() || e.is_eof() {
            format!("invalid JSON: {msg}")
        } else {
            msg
        }
    })
}

/// Semantic checks that serde cannot express.
pub fn validate(spec: &Spec) -> Result<()> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Config("config.json has no process section".into()))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::Config("process.args must not be empty".into()));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::Config(format!(
            "process.cwd {} must be an absolute path",
            process.cwd().display()
        )));
    }
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::Config("config.json has no linux section".into()))?;
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let mut seen = Vec::new();
    for ns in &namespaces {
        if seen.contains(&ns.typ()) {
            return Err(Error::Config(format!(
                "namespace {} is listed twice",
                ns.typ()
            )));
        }
        seen.push(ns.typ());
        if let Some(p) = ns.path() {
            if !p.exists() {
                return Err(Error::Config(format!(
                    "namespace {} path {} does not exist",
                    ns.typ(),
                    p.display()
                )));
            }
        }
    }
    let has_user = seen.contains(&LinuxNamespaceType::User);
    let uid_maps = linux.uid_mappings().clone().unwrap_or_default();
    let gid_maps = linux.gid_mappings().clone().unwrap_or_default();
    if (!uid_maps.is_empty() || !gid_maps.is_empty()) && !has_user {
        return Err(Error::Config(
            "uid/gid mappings are set but there is no user namespace".into(),
        ));
    }
    let user_ns_is_new = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    if user_ns_is_new && (uid_maps.is_empty() || gid_maps.is_empty()) {
        return Err(Error::Config(
            "a new user namespace needs both uidMappings and gidMappings".into(),
        ));
    }
    for m in uid_maps.iter().chain(gid_maps.iter()) {
        if m.size() == 0 || m.host_id().checked_add(m.size()).is_none() {
            return Err(Error::Config(format!(
                "impossible id mapping: containerID {} hostID {} size {}",
                m.container_id(),
                m.host_id(),
                m.size()
            )));
        }
    }
    if linux.sysctl().as_ref().is_some_and(|s| !s.is_empty())
        && !seen.contains(&LinuxNamespaceType::Network)
        && linux
            .sysctl()
            .iter()
            .flatten()
            .any(|(k, _)| k.starts_with("net."))
    {
        return Err(Error::Config(
            "net.* sysctls need a network namespace".into(),
        ));
    }
    Ok(())
}
