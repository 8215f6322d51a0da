//! Layer snapshots keyed by OCI chain id (`<root>/snapshots/<chainid-hex>/fs`) and
//! overlayfs mounts over them.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::digest::Digest;
use crate::error::{io_err, sys_err, Error, Result};
use crate::unpack::{unpack_layer, Unpacked};

const FS_DIR: &str = "fs";
const META_FILE: &str = "snapshot.json";
/// Legacy mount(2) option strings must fit in one page.
const MAX_MOUNT_DATA: usize = 4095;

/// The chain id of a layer on top of `parent` (OCI: `sha256(parent + " " + diff_id)`,
/// or the diff_id itself for the bottom layer).
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => Digest::of_bytes(format!("{p} {diff_id}").as_bytes()),
    }
}

/// Chain ids of every prefix of `diff_ids` (bottom layer first).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = chain_id(out.last(), d);
        out.push(next);
    }
    out
}

/// What [`Snapshots::apply_layer`] did.
#[derive(Clone, Debug)]
pub struct Applied {
    pub chain_id: Digest,
    pub diff_id: Digest,
    /// The snapshot was already there; the layer was not (or no longer) needed.
    pub reused: bool,
    /// Warnings from unpacking (empty when reused).
    pub warnings: Vec<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SnapshotMeta {
    chain_id: Digest,
    parent: Option<Digest>,
    diff_id: Digest,
}

/// The snapshot directory of an image store.
#[derive(Clone, Debug)]
pub struct Snapshots {
    dir: PathBuf,
}

impl Snapshots {
    /// Opens (creating as needed) `<root>/snapshots`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let dir = root.as_ref().join("snapshots");
        fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        Ok(Self { dir })
    }

    /// Removes what unpacks cut short by a crash left (`.ingest-*` directories); for the
    /// one process that owns the store, at its start.
    pub fn remove_leftovers(&self) -> Result<()> {
        for entry in fs::read_dir(&self.dir).map_err(io_err("listing snapshots"))? {
            let entry = entry.map_err(io_err("listing snapshots"))?;
            if entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(b".ingest-")
            {
                fs::remove_dir_all(entry.path())
                    .map_err(io_err(format!("removing {}", entry.path().display())))?;
            }
        }
        Ok(())
    }

    /// `snapshots/<hex>`.
    pub fn path(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.hex())
    }

    /// `snapshots/<hex>/fs`, the directory used as an overlay lower.
    pub fn fs_path(&self, chain_id: &Digest) -> PathBuf {
        self.path(chain_id).join(FS_DIR)
    }

    /// Whether the snapshot is complete and present.
    pub fn exists(&self, chain_id: &Digest) -> bool {
        self.fs_path(chain_id).is_dir()
    }

    /// Unpacks `layer` as a snapshot on top of `parent`. When `expected_diff_id` is
    /// given and its snapshot exists, the layer is not read at all. A failed unpack
    /// leaves nothing under `snapshots/`. Each snapshot holds only its own layer (overlayfs
    /// stacks them), so the parent matters only for the chain id.
    pub fn apply_layer<R: Read + Send>(
        &self,
        parent: Option<&Digest>,
        layer: R,
        expected_diff_id: Option<&Digest>,
    ) -> Result<Applied> {
        // A caller that knows the diff id names the snapshot up front, so the layers of one
        // image may be unpacked in any order (in parallel); without it, the parent must be
        // there already.
        if let (Some(p), None) = (parent, expected_diff_id) {
            if !self.exists(p) {
                return Err(Error::Layer(format!("parent snapshot {p} does not exist")));
            }
        }
        if let Some(d) = expected_diff_id {
            let chain = chain_id(parent, d);
            if self.exists(&chain) {
                return Ok(Applied {
                    chain_id: chain,
                    diff_id: d.clone(),
                    reused: true,
                    warnings: Vec::new(),
                });
            }
        }
        let ingest = tempfile::Builder::new()
            .prefix(".ingest-")
            .tempdir_in(&self.dir)
            .map_err(io_err("creating snapshot ingest directory"))?;
        let Unpacked {
            diff_id, warnings, ..
        } = unpack_layer(layer, &ingest.path().join(FS_DIR), expected_diff_id)?;
        let chain = chain_id(parent, &diff_id);
        let dest = self.path(&chain);
        let applied = |reused| Applied {
            chain_id: chain.clone(),
            diff_id: diff_id.clone(),
            reused,
            warnings: warnings.clone(),
        };
        if self.exists(&chain) {
            return Ok(applied(true));
        }
        let meta = SnapshotMeta {
            chain_id: chain.clone(),
            parent: parent.cloned(),
            diff_id: diff_id.clone(),
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(|source| Error::Json {
            context: "snapshot metadata".into(),
            source,
        })?;
        crate::store::write_atomic(ingest.path(), META_FILE, &json)?;
        let _ = fs::remove_dir_all(&dest); // an incomplete leftover without fs/
        match fs::rename(ingest.path(), &dest) {
            Ok(()) => {
                let _ = ingest.keep();
                Ok(applied(false))
            }
            Err(_) if self.exists(&chain) => Ok(applied(true)),
            Err(e) => Err(io_err(format!("renaming snapshot to {}", dest.display()))(
                e,
            )),
        }
    }

    /// The parent chain id recorded for a snapshot.
    pub fn parent(&self, chain_id: &Digest) -> Result<Option<Digest>> {
        let path = self.path(chain_id).join(META_FILE);
        let data = fs::read(&path).map_err(io_err(format!("reading {}", path.display())))?;
        let meta: SnapshotMeta = serde_json::from_slice(&data).map_err(|source| Error::Json {
            context: format!("parsing {}", path.display()),
            source,
        })?;
        Ok(meta.parent)
    }

    /// Removes a snapshot; returns whether it was there.
    pub fn remove(&self, chain_id: &Digest) -> Result<bool> {
        match fs::remove_dir_all(self.path(chain_id)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(format!("removing snapshot {chain_id}"))(e)),
        }
    }

    /// Chain ids of all complete snapshots, sorted.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err("listing snapshots"))? {
            let entry = entry.map_err(io_err("listing snapshots"))?;
            let name = entry.file_name();
            if let Some(d) = name.to_str().and_then(|n| Digest::from_hex(n).ok()) {
                if self.exists(&d) {
                    out.push(d);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The overlayfs `lowerdir` value for an image whose layers have `chain_ids`
    /// (bottom layer first, as from [`chain_ids`]): the topmost snapshot first,
    /// colon-separated, `:` and `\` in paths escaped with `\`.
    pub fn lowerdir_chain(&self, chain_ids: &[Digest]) -> String {
        let lowers: Vec<PathBuf> = chain_ids.iter().rev().map(|c| self.fs_path(c)).collect();
        lowerdir_value(&lowers)
    }
}

fn lowerdir_value(lowers: &[impl AsRef<Path>]) -> String {
    let escaped: Vec<String> = lowers
        .iter()
        .map(|p| {
            p.as_ref()
                .to_string_lossy()
                .replace('\\', "\\\\")
                .replace(':', "\\:")
        })
        .collect();
    escaped.join(":")
}

fn option_path(p: &Path) -> Result<String> {
    let s = p
        .to_str()
        .ok_or_else(|| Error::Overlay(format!("path {} is not UTF-8", p.display())))?;
    if s.contains(',') {
        return Err(Error::Overlay(format!("path {s} contains ','")));
    }
    Ok(s.to_string())
}

/// Mounts overlayfs at `target` with `lowers` (topmost first), `upper` and `work`
/// (same filesystem as `upper`, empty).
pub fn mount_overlay(
    lowers: &[impl AsRef<Path>],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<()> {
    mount_overlay_opts(lowers, upper, work, target, "")
}

/// [`mount_overlay`] for a layer that is thrown away after one run (`run --rm`): with
/// overlayfs's `volatile` option (5.10+) the upper filesystem is not synced, so the unmount
/// does not wait for the disk (an ext4 journal commit: 1 ms idle, tens of ms under write
/// load). A kernel without it gets the ordinary mount.
pub fn mount_overlay_volatile(
    lowers: &[impl AsRef<Path>],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<()> {
    match mount_overlay_opts(lowers, upper, work, target, ",volatile") {
        Err(Error::Sys {
            errno: nix::errno::Errno::EINVAL,
            ..
        }) => mount_overlay(lowers, upper, work, target),
        r => r,
    }
}

fn mount_overlay_opts(
    lowers: &[impl AsRef<Path>],
    upper: &Path,
    work: &Path,
    target: &Path,
    extra: &str,
) -> Result<()> {
    if lowers.is_empty() {
        return Err(Error::Overlay("no lower directory".into()));
    }
    for l in lowers {
        option_path(l.as_ref())?;
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}{extra}",
        lowerdir_value(lowers),
        option_path(upper)?,
        option_path(work)?
    );
    if data.len() > MAX_MOUNT_DATA {
        return Err(Error::Overlay(format!(
            "mount options are {} bytes, over one page",
            data.len()
        )));
    }
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(sys_err("mount overlay on", target))
}

/// Unmounts `target` (not following a symlink there).
pub fn unmount(target: &Path) -> Result<()> {
    nix::mount::umount2(target, MntFlags::UMOUNT_NOFOLLOW).map_err(sys_err("umount", target))
}
