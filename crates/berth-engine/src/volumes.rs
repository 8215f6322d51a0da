//! Named volumes (the local driver: a directory under data-root/volumes) and the
//! resolution of a container's `-v`, `--mount`, `--tmpfs` and image VOLUMEs into mounts.

use crate::container::MountPoint;
use crate::db::Table;
use crate::engine::Engine;
use crate::error::{Context, Error, Result};
use crate::model::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A volume as `docker volume inspect` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub created_at: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub scope: String,
    /// Made for one container (image VOLUME or `-v /path`).
    #[serde(default)]
    pub anonymous: bool,
}

/// A tmpfs mount: destination and mount options.
pub(crate) type Tmpfs = (String, String);

fn valid_volume_name(name: &str) -> bool {
    crate::container::valid_name(name)
}

impl Engine {
    fn volume_dir(&self, name: &str) -> PathBuf {
        self.cfg.data_root.join("volumes").join(name)
    }

    /// `volume create`: idempotent for an existing name, as docker is.
    pub fn volume_create(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<Volume> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => crate::container::new_id(),
        };
        if !valid_volume_name(&name) {
            return Err(Error::Invalid(format!(
                "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        if let Some(v) = self.db.get::<Volume>(Table::Volumes, &name)? {
            return Ok(v);
        }
        let data = self.volume_dir(&name).join("_data");
        std::fs::create_dir_all(&data).ctx(|| format!("creating {}", data.display()))?;
        let v = Volume {
            name: name.clone(),
            driver: "local".into(),
            mountpoint: data.to_string_lossy().into_owned(),
            created_at: crate::now(),
            labels,
            options: BTreeMap::new(),
            scope: "local".into(),
            anonymous,
        };
        self.db.put(Table::Volumes, &name, &v)?;
        self.events
            .publish("volume", "create", &name, &[("driver", "local")]);
        Ok(v)
    }

    pub fn volume_get(&self, name: &str) -> Result<Volume> {
        self.db
            .get(Table::Volumes, name)?
            .ok_or_else(|| Error::NotFound(format!("get {name}: no such volume")))
    }

    pub fn volume_list(&self) -> Result<Vec<Volume>> {
        Ok(self
            .db
            .list(Table::Volumes)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Containers (ids) using a volume.
    fn volume_users(&self, name: &str) -> Vec<String> {
        self.lock()
            .values()
            .filter(|c| c.mounts.iter().any(|m| m.typ == "volume" && m.name == name))
            .map(|c| c.id.clone())
            .collect()
    }

    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let v = match self.volume_get(name) {
            Ok(v) => v,
            Err(e) if force => {
                return if matches!(e, Error::NotFound(_)) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(e) => return Err(e),
        };
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        let dir = self.volume_dir(&v.name);
        self.trash.discard(&dir)?;
        self.db.delete(Table::Volumes, name)?;
        self.events
            .publish("volume", "destroy", name, &[("driver", "local")]);
        Ok(())
    }

    /// `volume prune`: unused anonymous volumes (all unused ones with `all`). Returns the
    /// names removed and the bytes freed.
    pub fn volume_prune(&self, all: bool) -> Result<(Vec<String>, u64)> {
        let mut gone = Vec::new();
        let mut bytes = 0;
        for v in self.volume_list()? {
            if (all || v.anonymous) && self.volume_users(&v.name).is_empty() {
                bytes += crate::du(&self.volume_dir(&v.name));
                self.volume_remove(&v.name, false)?;
                gone.push(v.name);
            }
        }
        Ok((gone, bytes))
    }

    /// The mounts a new container gets, volumes made as needed; tmpfs mounts apart.
    pub(crate) fn resolve_mounts(
        &self,
        cfg: &ContainerConfig,
        hc: &HostConfig,
    ) -> Result<(Vec<MountPoint>, Vec<Tmpfs>)> {
        let mut out: Vec<MountPoint> = Vec::new();
        let mut tmpfs: Vec<(String, String)> = Vec::new();
        let check_dst = |d: &str| -> Result<()> {
            if !d.starts_with('/') {
                return Err(Error::Invalid(format!(
                    "invalid mount config: mount path must be absolute: {d}"
                )));
            }
            Ok(())
        };
        for b in hc.binds.iter().flatten() {
            let parts: Vec<&str> = b.split(':').collect();
            let (src, dst, opts) = match parts.as_slice() {
                [d] => ("", *d, ""),
                [s, d] => (*s, *d, ""),
                [s, d, o] => (*s, *d, *o),
                _ => {
                    return Err(Error::Invalid(format!(
                        "invalid volume specification: '{b}'"
                    )))
                }
            };
            check_dst(dst)?;
            let rw = !opts.split(',').any(|o| o == "ro");
            let mut m = self.mount_point(src, dst, rw)?;
            m.no_copy = opts.split(',').any(|o| o == "nocopy");
            out.push(m);
        }
        for m in hc.mounts.iter().flatten() {
            check_dst(&m.target)?;
            match m.typ.as_str() {
                "bind" => {
                    if !std::path::Path::new(&m.source).exists() {
                        return Err(Error::Invalid(format!(
                            "invalid mount config for type \"bind\": bind source path does not exist: {}",
                            m.source
                        )));
                    }
                    out.push(self.mount_point(&m.source, &m.target, !m.read_only)?)
                }
                "volume" => {
                    let mut mp = self.mount_point(&m.source, &m.target, !m.read_only)?;
                    mp.no_copy = m.volume_options.as_ref().is_some_and(|o| o.no_copy);
                    out.push(mp)
                }
                "tmpfs" => {
                    let mut opts = Vec::new();
                    if let Some(t) = &m.tmpfs_options {
                        if t.size_bytes > 0 {
                            opts.push(format!("size={}", t.size_bytes));
                        }
                        if t.mode != 0 {
                            opts.push(format!("mode={:o}", t.mode & 0o7777));
                        }
                    }
                    if m.read_only {
                        opts.push("ro".into());
                    }
                    tmpfs.push((m.target.clone(), opts.join(",")))
                }
                t => return Err(Error::Invalid(format!("mount type unknown: {t}"))),
            }
        }
        for (dst, opts) in hc.tmpfs.iter().flatten() {
            check_dst(dst)?;
            tmpfs.push((dst.clone(), opts.clone()));
        }
        for from in hc.volumes_from.iter().flatten() {
            for m in self.volumes_from(from)? {
                if !out.iter().any(|o| o.destination == m.destination) {
                    out.push(m);
                }
            }
        }
        for dst in cfg.volumes.iter().flatten().map(|(k, _)| k) {
            if !out.iter().any(|m| &m.destination == dst) && !tmpfs.iter().any(|t| &t.0 == dst) {
                out.push(self.mount_point("", dst, true)?);
            }
        }
        Ok((out, tmpfs))
    }

    /// `--volumes-from NAME[:ro|:rw]`: the volumes and binds of that container, read-only
    /// or read-write as asked, else as it has them. They stay its own: `rm -v` of this one
    /// leaves even its anonymous volumes.
    fn volumes_from(&self, spec: &str) -> Result<Vec<MountPoint>> {
        let (name, mode) = match spec.rsplit_once(':') {
            Some((n, m)) if m == "ro" || m == "rw" => (n, Some(m == "rw")),
            Some((_, m)) => {
                return Err(Error::Invalid(format!(
                    "invalid mode for volumes-from: {m}"
                )))
            }
            None => (spec, None),
        };
        // A 400, not a 404: the docker CLI takes a 404 at create for a missing image.
        let from = self
            .find(name)
            .map_err(|_| Error::Invalid(format!("No such container: {name}")))?;
        Ok(from
            .mounts
            .iter()
            .map(|m| MountPoint {
                rw: mode.unwrap_or(m.rw),
                anonymous: false,
                no_copy: true,
                ..m.clone()
            })
            .collect())
    }

    /// One `-v` entry: an absolute source is a bind, a name a named volume, none an
    /// anonymous volume.
    fn mount_point(&self, src: &str, dst: &str, rw: bool) -> Result<MountPoint> {
        if src.starts_with('/') {
            return Ok(MountPoint {
                typ: "bind".into(),
                name: String::new(),
                source: src.into(),
                destination: dst.into(),
                rw,
                anonymous: false,
                no_copy: false,
            });
        }
        let anonymous = src.is_empty();
        let v = self.volume_create(
            Some(src).filter(|s| !s.is_empty()),
            BTreeMap::new(),
            anonymous,
        )?;
        Ok(MountPoint {
            typ: "volume".into(),
            name: v.name,
            source: v.mountpoint,
            destination: dst.into(),
            rw,
            anonymous,
            no_copy: false,
        })
    }
}

/// docker's copy-up: the first time an empty volume is mounted over a directory the image
/// has, the image's files (modes, owners, times, symlinks as symlinks) are copied into it,
/// and the volume's root takes the directory's owner and mode. Nothing is followed out of
/// either tree; device nodes and sockets are skipped.
pub(crate) fn copy_up(rootfs: &Path, m: &MountPoint) -> Result<()> {
    if m.typ != "volume" || m.no_copy {
        return Ok(());
    }
    let dst = Path::new(&m.source);
    let empty = std::fs::read_dir(dst)
        .ctx(|| format!("reading volume {}", m.name))?
        .next()
        .is_none();
    if !empty {
        return Ok(());
    }
    let Ok(src) = berth_runtime::mounts::resolve_in_root(rootfs, Path::new(&m.destination)) else {
        return Ok(());
    };
    match std::fs::symlink_metadata(&src) {
        Ok(md) if md.is_dir() => {}
        _ => return Ok(()),
    }
    copy_tree(&src, dst).ctx(|| format!("copying {} into volume {}", m.destination, m.name))
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let md = std::fs::symlink_metadata(&from)?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&to)?;
            copy_tree(&from, &to)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            let mut r = std::fs::File::open(&from)?;
            let mut w = std::fs::File::create(&to)?;
            std::io::copy(&mut r, &mut w)?;
        } else {
            continue;
        }
        std::os::unix::fs::lchown(&to, Some(md.uid()), Some(md.gid()))?;
        if !ft.is_symlink() {
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
        }
        set_times(&to, &md)?;
    }
    let md = std::fs::symlink_metadata(src)?;
    std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid()))?;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
    set_times(dst, &md)
}

/// The access and modification times of `md` on `path` (not following a symlink).
fn set_times(path: &Path, md: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let ts = |s: i64, ns: i64| nix::sys::time::TimeSpec::new(s, ns);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &ts(md.atime(), md.atime_nsec()),
        &ts(md.mtime(), md.mtime_nsec()),
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(std::io::Error::from)
}
