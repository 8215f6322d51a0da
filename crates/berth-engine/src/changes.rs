//! `docker diff`: what a container changed in its filesystem, read from its overlay's upper
//! directory against the image's layers: added, changed, deleted (a whiteout). Mount points
//! made for the container (/etc/hosts and the like, volumes, kernel filesystems) are not its
//! changes, and a directory shows as changed only for what changed in it, as dockerd shows.

use crate::container::ContainerRecord;
use crate::engine::Engine;
use crate::error::{Context, Result};
use serde::Serialize;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// One change, as `GET /containers/{id}/changes` answers: Kind 0 changed, 1 added, 2 deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    pub path: String,
    pub kind: u8,
}

/// Paths the engine or the runtime mount over (their mount points are not changes).
const MOUNTED: [&str; 7] = [
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/dev",
    "/proc",
    "/sys",
    crate::spec::INIT_PATH,
];

impl Engine {
    /// The container's changes, sorted by path.
    pub fn changes(&self, name: &str) -> Result<Vec<Change>> {
        let rec = self.find(name)?;
        let upper = self.container_dir(&rec.id).join("upper");
        let lowers = self.rootfs_lowers(&rec)?;
        let skip = skipped(&rec);
        let mut out = Vec::new();
        walk(&upper, &lowers, Path::new("/"), &skip, &mut out)?;
        out.sort();
        Ok(out)
    }
}

fn skipped(rec: &ContainerRecord) -> Vec<String> {
    let mut s: Vec<String> = MOUNTED.iter().map(|p| p.to_string()).collect();
    s.extend(rec.mounts.iter().map(|m| m.destination.clone()));
    s.extend(rec.tmpfs.iter().map(|t| t.0.clone()));
    s
}

/// The changes under `rel` (an absolute path in the container) of the upper directory;
/// whether any was reported.
fn walk(
    upper: &Path,
    lowers: &[PathBuf],
    rel: &Path,
    skip: &[String],
    out: &mut Vec<Change>,
) -> Result<bool> {
    let dir = upper.join(rel.strip_prefix("/").unwrap_or(rel));
    let entries = std::fs::read_dir(&dir).ctx(|| format!("reading {}", dir.display()))?;
    let mut any = false;
    for e in entries.flatten() {
        let path = rel.join(e.file_name());
        let shown = path.to_string_lossy().into_owned();
        if skip.contains(&shown) {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        let in_lower = lowers.iter().any(|l| {
            l.join(path.strip_prefix("/").unwrap_or(&path))
                .symlink_metadata()
                .is_ok()
        });
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            out.push(Change {
                path: shown,
                kind: 2,
            });
            any = true;
        } else if ft.is_dir() {
            let inner = walk(upper, lowers, &path, skip, out)?;
            if !in_lower {
                out.push(Change {
                    path: shown,
                    kind: 1,
                });
            } else if inner {
                out.push(Change {
                    path: shown,
                    kind: 0,
                });
            }
            any |= inner || !in_lower;
        } else {
            out.push(Change {
                path: shown,
                kind: if in_lower { 0 } else { 1 },
            });
            any = true;
        }
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_against_lower() {
        let t = tempfile::tempdir().unwrap();
        let (upper, lower) = (t.path().join("upper"), t.path().join("lower"));
        for d in ["bin", "etc", "usr/lib"] {
            std::fs::create_dir_all(lower.join(d)).unwrap();
        }
        std::fs::write(lower.join("etc/passwd"), "root").unwrap();
        std::fs::write(lower.join("bin/cat"), "").unwrap();
        for d in ["bin", "etc", "tmp", "usr/lib"] {
            std::fs::create_dir_all(upper.join(d)).unwrap();
        }
        std::fs::write(upper.join("etc/passwd"), "root2").unwrap();
        std::fs::write(upper.join("etc/hosts"), "").unwrap();
        std::fs::write(upper.join("tmp/new"), "x").unwrap();
        // A whiteout: a 0/0 character device.
        nix::sys::stat::mknod(
            &upper.join("bin/cat"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0),
            0,
        )
        .unwrap();
        let skip: Vec<String> = MOUNTED.iter().map(|p| p.to_string()).collect();
        let mut out = Vec::new();
        walk(&upper, &[lower], Path::new("/"), &skip, &mut out).unwrap();
        out.sort();
        let shown: Vec<(String, u8)> = out.into_iter().map(|c| (c.path, c.kind)).collect();
        let want = [
            ("/bin", 0),
            ("/bin/cat", 2),
            ("/etc", 0),
            ("/etc/passwd", 0),
            ("/tmp", 1),
            ("/tmp/new", 1),
        ];
        let want: Vec<(String, u8)> = want.iter().map(|(p, k)| (p.to_string(), *k)).collect();
        assert_eq!(
            shown, want,
            "/usr/lib copied up with nothing in it is no change"
        );
    }
}
