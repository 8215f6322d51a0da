//! A container's persisted state under the runtime root, and the status derived from the
//! live system (is init alive, waiting on its exec fifo, frozen).

use crate::error::{Context, Error, Result};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Default runtime root, like runc's /run/runc.
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";
const STATE_FILE: &str = "state.json";
const FIFO: &str = "exec.fifo";

/// Container status, as runc and the OCI spec name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `berth runtime state` prints: the same fields as runc.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicState {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

impl PublicState {
    /// The state of container `id` from its spec, as hooks and `state` show it.
    pub fn new(
        spec: &Spec,
        id: &str,
        pid: i32,
        status: Status,
        bundle: &Path,
        rootfs: &Path,
    ) -> PublicState {
        PublicState {
            oci_version: spec.version().clone(),
            id: id.to_string(),
            pid,
            status,
            bundle: bundle.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            created: String::new(),
            owner: String::new(),
            annotations: spec.annotations().clone().unwrap_or_default(),
        }
    }
}

/// The record written to `<root>/<id>/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub pid: i32,
    /// /proc/PID/stat start time of init, to detect pid reuse.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub cgroup_path: String,
    pub spec: Spec,
}

/// A container directory under the runtime root.
pub struct ContainerDir {
    pub path: PathBuf,
}

impl ContainerDir {
    pub fn new(root: &Path, id: &str) -> Result<ContainerDir> {
        check_id(id)?;
        Ok(ContainerDir {
            path: root.join(id),
        })
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join(FIFO)
    }

    pub fn exists(&self) -> bool {
        self.path.join(STATE_FILE).exists()
    }

    pub fn load(&self, id: &str) -> Result<Record> {
        let file = self.path.join(STATE_FILE);
        let text = std::fs::read(&file).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(id.to_string()),
            _ => Error::Io {
                context: format!("reading {}", file.display()),
                source: e,
            },
        })?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::Invalid(format!("corrupt state {}: {e}", file.display())))
    }

    /// Write atomically: a temp file renamed over the old one.
    pub fn save(&self, rec: &Record) -> Result<()> {
        let tmp = self.path.join(".state.json.tmp");
        let data =
            serde_json::to_vec(rec).map_err(|e| Error::Invalid(format!("encoding state: {e}")))?;
        std::fs::write(&tmp, data).ctx(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, self.path.join(STATE_FILE))
            .ctx(|| format!("saving state in {}", self.path.display()))
    }

    pub fn remove(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).ctx(|| format!("removing {}", self.path.display()))
            }
            _ => Ok(()),
        }
    }
}

/// Ids become directory names: keep them to a safe alphabet.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid container id {id:?}: use letters, digits, '_', '+', '-', '.'"
        )))
    }
}

/// Is the process that was init still alive (and not a zombie, and not a reused pid)?
pub fn init_alive(rec: &Record) -> bool {
    if rec.pid <= 0 {
        return false;
    }
    match crate::sys::pid_start_time(rec.pid) {
        Some(t) if t == rec.pid_start => !matches!(crate::sys::pid_state(rec.pid), Some('Z' | 'X')),
        _ => false,
    }
}

/// RFC 3339 UTC timestamp with nanoseconds, as runc prints `created`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(check_id("abc-1.2_x").is_ok());
        for bad in ["", "..", "a/b", "a b", "x\n"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamp_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
