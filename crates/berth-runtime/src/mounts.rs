//! Mount option parsing and path resolution inside the container root (symlinks stay inside).

use crate::error::{Error, Result};
use nix::mount::MsFlags;
use std::path::{Component, Path, PathBuf};

/// A mount's options split into what mount(2) takes.
#[derive(Debug, PartialEq)]
pub struct MountOpts {
    /// Flags for the mount itself (and a read-only/nosuid/... remount of a bind).
    pub flags: MsFlags,
    /// Flags that must be cleared (e.g. `rw`, `suid`), to tell "unset" from "not asked".
    pub clear: MsFlags,
    /// Propagation changes, applied in their own mount(2) call.
    pub propagation: Vec<MsFlags>,
    /// Everything else, passed as the filesystem's data string.
    pub data: String,
    pub bind: bool,
    pub recursive: bool,
}

/// Split OCI mount options the way runc does.
pub fn parse_options(options: &[String]) -> MountOpts {
    let mut o = MountOpts {
        flags: MsFlags::empty(),
        clear: MsFlags::empty(),
        propagation: Vec::new(),
        data: String::new(),
        bind: false,
        recursive: false,
    };
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => {
                o.bind = true;
                continue;
            }
            "rbind" => {
                o.bind = true;
                o.recursive = true;
                continue;
            }
            p @ ("private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
            | "unbindable" | "runbindable") => {
                o.propagation
                    .push(propagation_flag(p).unwrap_or(MsFlags::MS_PRIVATE));
                continue;
            }
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        o.flags |= set;
        o.flags &= !clear;
        o.clear |= clear;
    }
    o.data = data.join(",");
    o
}

/// The mount(2) flags of a propagation mode name (`rslave`, `private`, ...).
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Resolve `path` as if `root` were `/`: `..` cannot climb above root and symlinks (absolute
/// or relative) are followed inside root. Components that do not exist yet are kept as is.
pub fn resolve_in_root(root: &Path, path: &Path) -> Result<PathBuf> {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    let mut pending: Vec<std::ffi::OsString> = components(path);
    pending.reverse();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            parts.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&parts);
        candidate.push(&c);
        match std::fs::read_link(&candidate) {
            Ok(target) => {
                hops += 1;
                if hops > 40 {
                    return Err(Error::Config(format!(
                        "too many symlinks resolving {} in the rootfs",
                        path.display()
                    )));
                }
                if target.is_absolute() {
                    parts.clear();
                }
                let mut t = components(&target);
                t.reverse();
                pending.extend(t);
            }
            Err(_) => parts.push(c),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&parts);
    Ok(out)
}

fn components(p: &Path) -> Vec<std::ffi::OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_split_into_flags_and_data() {
        let o = parse_options(&s(&["nosuid", "noexec", "mode=755", "size=65536k", "ro"]));
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY
        );
        assert_eq!(o.data, "mode=755,size=65536k");
        let o = parse_options(&s(&["rbind", "rprivate", "rw"]));
        assert!(o.bind && o.recursive);
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert!(o.clear.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn symlinks_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/../../../../tmp", root.join("evil")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("etc/up")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/evil/x")).unwrap(),
            root.join("tmp/x")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/etc/up/y")).unwrap(),
            root.join("y")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/../../z")).unwrap(),
            root.join("z")
        );
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(resolve_in_root(root, Path::new("/loop")).is_err());
    }
}
