//! A container's persisted state under the runtime root, and the status derived from the
//! live system (is init alive, waiting on its exec fifo, frozen).
//!
//! The seccomp profile (docker's default is 5.8 KiB of the 8.5 a record would be) is kept
//! apart, once per distinct profile: `<root>/@seccomp/<sha256>.json`, hard-linked as each
//! container's `seccomp.json`, and removed with the last container that links it. On /run's
//! tmpfs a record then takes one page instead of three.

use crate::error::{Context, Error, Result};
use oci_spec::runtime::{LinuxSeccomp, Spec};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Default runtime root, like runc's /run/runc.
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";
const STATE_FILE: &str = "state.json";
const FIFO: &str = "exec.fifo";
const SECCOMP_FILE: &str = "seccomp.json";
/// Shared seccomp profiles. `@` is not allowed in ids, so this is never a container.
const SHARED_SECCOMP: &str = "@seccomp";

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
    /// The spec, its seccomp profile left out (see [`ContainerDir::seccomp`]).
    pub spec: Spec,
    /// Whether the container has a seccomp profile, in `seccomp.json`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_seccomp: bool,
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

    /// Keep `profile` as this container's `seccomp.json`: a link to the shared copy of the
    /// same profile, made if it is not there yet.
    pub fn save_seccomp(&self, profile: &LinuxSeccomp) -> Result<()> {
        use sha2::Digest;
        let data = serde_json::to_vec(profile)
            .map_err(|e| Error::Invalid(format!("encoding seccomp profile: {e}")))?;
        let digest: String = sha2::Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let shared_dir = self.shared_dir();
        let shared = shared_dir.join(format!("{digest}.json"));
        let mine = self.path.join(SECCOMP_FILE);
        // The last container using a shared copy removes it; one linking at that moment
        // finds it gone and writes it again.
        for _ in 0..3 {
            match std::fs::hard_link(&shared, &mine) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx(|| format!("linking {}", mine.display())),
            }
            std::fs::create_dir_all(&shared_dir)
                .ctx(|| format!("creating {}", shared_dir.display()))?;
            let name = self.path.file_name().unwrap_or_default().to_string_lossy();
            let tmp = shared_dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, &data).ctx(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &shared).ctx(|| format!("saving {}", shared.display()))?;
        }
        std::fs::write(&mine, &data).ctx(|| format!("writing {}", mine.display()))
    }

    /// The container's seccomp profile, kept by [`ContainerDir::save_seccomp`].
    pub fn seccomp(&self) -> Result<LinuxSeccomp> {
        let file = self.path.join(SECCOMP_FILE);
        let data = std::fs::read(&file).ctx(|| format!("reading {}", file.display()))?;
        serde_json::from_slice(&data)
            .map_err(|e| Error::Invalid(format!("corrupt {}: {e}", file.display())))
    }

    fn shared_dir(&self) -> PathBuf {
        self.path
            .parent()
            .unwrap_or(Path::new("/"))
            .join(SHARED_SECCOMP)
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

    /// Remove the directory, and the shared seccomp profiles no container links any more.
    pub fn remove(&self) -> Result<()> {
        let had_seccomp = self.path.join(SECCOMP_FILE).exists();
        match std::fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).ctx(|| format!("removing {}", self.path.display()))
            }
            _ => {}
        }
        if had_seccomp {
            self.drop_unused_seccomp();
        }
        Ok(())
    }

    /// Shared profiles with no other link are no container's.
    fn drop_unused_seccomp(&self) {
        use std::os::unix::fs::MetadataExt;
        let Ok(rd) = std::fs::read_dir(self.shared_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let unused = e.metadata().is_ok_and(|m| m.nlink() == 1);
            if unused && e.file_name().to_string_lossy().ends_with(".json") {
                let _ = std::fs::remove_file(e.path());
            }
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

    fn profile(action: &str) -> LinuxSeccomp {
        serde_json::from_value(serde_json::json!({
            "defaultAction": action,
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
        }))
        .expect("profile")
    }

    fn nlink(p: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).expect("metadata").nlink()
    }

    #[test]
    fn containers_with_one_profile_share_one_file_until_the_last_goes() {
        let root = tempfile::tempdir().expect("tempdir");
        let dirs: Vec<ContainerDir> = ["a", "b"]
            .iter()
            .map(|id| {
                let d = ContainerDir::new(root.path(), id).expect("dir");
                std::fs::create_dir(&d.path).expect("mkdir");
                d.save_seccomp(&profile("SCMP_ACT_ALLOW")).expect("save");
                d
            })
            .collect();
        let other = ContainerDir::new(root.path(), "c").expect("dir");
        std::fs::create_dir(&other.path).expect("mkdir");
        other.save_seccomp(&profile("SCMP_ACT_KILL")).expect("save");

        let shared = root.path().join(SHARED_SECCOMP);
        assert_eq!(std::fs::read_dir(&shared).expect("shared").count(), 2);
        let a = dirs[0].path.join(SECCOMP_FILE);
        assert_eq!(nlink(&a), 3, "shared copy + a + b");
        assert_eq!(dirs[1].seccomp().expect("read"), profile("SCMP_ACT_ALLOW"));
        assert!(
            check_id(SHARED_SECCOMP).is_err(),
            "never taken for a container"
        );

        dirs[0].remove().expect("remove a");
        assert_eq!(
            nlink(&dirs[1].path.join(SECCOMP_FILE)),
            2,
            "b still links it"
        );
        assert_eq!(dirs[1].seccomp().expect("read"), profile("SCMP_ACT_ALLOW"));
        dirs[1].remove().expect("remove b");
        let left: Vec<_> = std::fs::read_dir(&shared)
            .expect("shared")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(left.len(), 1, "only c's profile is left: {left:?}");
        other.remove().expect("remove c");
        assert_eq!(std::fs::read_dir(&shared).expect("shared").count(), 0);
    }

    #[test]
    fn a_record_keeps_its_profile_apart() {
        let root = tempfile::tempdir().expect("tempdir");
        let d = ContainerDir::new(root.path(), "x").expect("dir");
        std::fs::create_dir(&d.path).expect("mkdir");
        let mut spec = Spec::default();
        let big = serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": (0..400).map(|i| format!("syscall_{i}")).collect::<Vec<_>>(),
                          "action": "SCMP_ACT_ALLOW"}]
        });
        let profile: LinuxSeccomp = serde_json::from_value(big).expect("profile");
        if let Some(l) = spec.linux_mut() {
            l.set_seccomp(Some(profile.clone()));
        }
        let mut rec = Record {
            id: "x".into(),
            pid: 0,
            pid_start: 0,
            bundle: PathBuf::from("/b"),
            rootfs: PathBuf::from("/b/rootfs"),
            created: now_rfc3339(),
            cgroup_path: String::new(),
            spec,
            has_seccomp: false,
        };
        let taken = rec
            .spec
            .linux_mut()
            .as_mut()
            .and_then(|l| l.seccomp_mut().take());
        d.save_seccomp(&taken.expect("profile")).expect("save");
        rec.has_seccomp = true;
        d.save(&rec).expect("save");
        let text = std::fs::read_to_string(d.path.join(STATE_FILE)).expect("read");
        assert!(!text.contains("syscall_1"), "{text}");
        assert!(text.len() < 4096, "{} bytes", text.len());
        let back = d.load("x").expect("load");
        assert!(back.has_seccomp);
        assert_eq!(d.seccomp().expect("seccomp"), profile);
    }

    #[test]
    fn timestamp_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
