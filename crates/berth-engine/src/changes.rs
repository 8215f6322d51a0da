//! What a container changed in its filesystem, read from its overlay's upper directory:
//! `docker diff` (against the image's layers: added, changed, deleted, a whiteout) and the
//! layer tar `docker commit` stores (whiteouts written as `.wh.` entries, opaque directories
//! with `.wh..wh..opq`, as image layers have them). Mount points made for the container
//! (/etc/hosts and the like, volumes, kernel filesystems) are not its changes, and in a
//! diff a directory shows as changed only for what changed in it, as dockerd shows.

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
    /// Bytes the container wrote (its upper directory), and those with its image's.
    pub fn container_size(&self, rec: &ContainerRecord) -> (u64, u64) {
        let rw = crate::du(&self.container_dir(&rec.id).join("upper"));
        let image = self.images.resolve(&rec.image_id).map_or(0, |i| i.size);
        (rw, rw + image)
    }

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

pub(crate) fn skipped(rec: &ContainerRecord) -> Vec<String> {
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

/// Write the upper directory `upper` as an image layer tar into `w`, leaving out `skip`
/// (absolute paths in the container). Entries are in name order, so the same changes give
/// the same bytes up to times.
pub(crate) fn write_layer<W: std::io::Write>(upper: &Path, skip: &[String], w: W) -> Result<()> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    let mut links = std::collections::HashMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = upper.join(&rel);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .ctx(|| format!("reading {}", dir.display()))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        // Depth first, in order: subdirectories are pushed in reverse.
        let mut subdirs = Vec::new();
        for n in names {
            let r = rel.join(&n);
            if skip
                .iter()
                .any(|s| Path::new(s).strip_prefix("/").ok() == Some(r.as_path()))
            {
                continue;
            }
            let p = upper.join(&r);
            let meta = std::fs::symlink_metadata(&p).ctx(|| format!("reading {}", p.display()))?;
            if add_entry(&mut b, &p, &r, &meta, &mut links)? {
                subdirs.push(r);
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    b.into_inner()
        .and_then(|mut w| w.flush())
        .ctx(|| "writing the layer".into())
}

/// One entry of the layer; true for a directory to descend into.
fn add_entry<W: std::io::Write>(
    b: &mut tar::Builder<W>,
    p: &Path,
    r: &Path,
    meta: &std::fs::Metadata,
    links: &mut std::collections::HashMap<(u64, u64), PathBuf>,
) -> Result<bool> {
    let ctx = || format!("adding {} to the layer", r.display());
    let ft = meta.file_type();
    let mut h = tar::Header::new_gnu();
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(meta.uid().into());
    h.set_gid(meta.gid().into());
    h.set_mtime(meta.mtime().max(0) as u64);
    h.set_size(0);
    let empty: &[u8] = &[];
    if ft.is_char_device() && meta.rdev() == 0 {
        // An overlay whiteout: the layer's `.wh.` file.
        let name = r.file_name().unwrap_or_default().to_string_lossy();
        let wh = r.with_file_name(format!(".wh.{name}"));
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        b.append_data(&mut h, &wh, empty).ctx(ctx)?;
        return Ok(false);
    }
    if ft.is_dir() {
        h.set_entry_type(tar::EntryType::Directory);
        b.append_data(&mut h, r, empty).ctx(ctx)?;
        if xattr::get(p, berth_image::OPAQUE_XATTR)
            .ok()
            .flatten()
            .as_deref()
            == Some(b"y")
        {
            let mut o = tar::Header::new_gnu();
            o.set_entry_type(tar::EntryType::Regular);
            o.set_mode(0o644);
            o.set_size(0);
            b.append_data(&mut o, r.join(".wh..wh..opq"), empty)
                .ctx(ctx)?;
        }
        return Ok(true);
    }
    if ft.is_symlink() {
        let target = std::fs::read_link(p).ctx(ctx)?;
        h.set_entry_type(tar::EntryType::Symlink);
        b.append_link(&mut h, r, &target).ctx(ctx)?;
        return Ok(false);
    }
    if ft.is_file() {
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = links.get(&key) {
                h.set_entry_type(tar::EntryType::Link);
                b.append_link(&mut h, r, first).ctx(ctx)?;
                return Ok(false);
            }
            links.insert(key, r.to_path_buf());
        }
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(meta.len());
        let f = std::fs::File::open(p).ctx(ctx)?;
        b.append_data(&mut h, r, f).ctx(ctx)?;
        return Ok(false);
    }
    let kind = if ft.is_char_device() {
        tar::EntryType::Char
    } else if ft.is_block_device() {
        tar::EntryType::Block
    } else if ft.is_fifo() {
        tar::EntryType::Fifo
    } else {
        // Sockets belong to processes, not to images.
        return Ok(false);
    };
    h.set_entry_type(kind);
    if kind != tar::EntryType::Fifo {
        h.set_device_major(libc::major(meta.rdev())).ctx(ctx)?;
        h.set_device_minor(libc::minor(meta.rdev())).ctx(ctx)?;
    }
    b.append_data(&mut h, r, empty).ctx(ctx)?;
    Ok(false)
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
