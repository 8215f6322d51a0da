//! Filesystem steps of unpacking that must stay inside a root: entry-name cleaning,
//! symlink resolution scoped to the root, replacing what is in the way, whiteouts,
//! and applying ownership, mode, times and xattrs without following symlinks.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;

use crate::error::{io_err, sys_err, Error, Result};
use crate::unpack::layer_err;

/// The symlinks followed while resolving one path, as in the kernel (ELOOP).
const MAX_SYMLINKS: usize = 40;

/// The overlayfs xattr that marks an opaque directory.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

const XATTR_PAX_PREFIX: &str = "SCHILY.xattr.";

pub(crate) fn unsafe_entry(entry: &str, reason: impl Into<String>) -> Error {
    Error::UnsafeEntry {
        entry: entry.to_string(),
        reason: reason.into(),
    }
}

/// Splits a tar name into plain components: a leading `/` and `.` are dropped, `..`
/// anywhere is refused. An empty result means the root itself.
pub(crate) fn clean_name(raw: &[u8], entry: &str) -> Result<Vec<OsString>> {
    let mut out = Vec::new();
    for comp in Path::new(OsStr::from_bytes(raw)).components() {
        match comp {
            Component::Normal(c) => out.push(c.to_os_string()),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_entry(entry, "path contains '..'")),
            Component::Prefix(_) => return Err(unsafe_entry(entry, "path has a prefix")),
        }
    }
    Ok(out)
}

/// Resolves directory components under `root` the way a chroot would: symlinks are
/// followed but their targets (absolute or relative, `..` included) are taken inside
/// `root`, so the result never leaves it and contains no symlink. Missing directories
/// are created when `create` is set, otherwise they are an error.
pub(crate) fn resolve_dir(
    root: &Path,
    comps: &[OsString],
    create: bool,
    entry: &str,
) -> Result<PathBuf> {
    let mut todo: Vec<OsString> = comps.iter().rev().cloned().collect();
    let mut cur: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c.is_empty() || c == "." {
            continue;
        }
        if c == ".." {
            cur.pop();
            continue;
        }
        let path = join(root, &cur).join(&c);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => cur.push(c),
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(unsafe_entry(entry, "too many levels of symbolic links"));
                }
                let target =
                    fs::read_link(&path).map_err(io_err(format!("readlink {}", path.display())))?;
                if target.is_absolute() {
                    cur.clear();
                }
                for tc in target.components().rev() {
                    match tc {
                        Component::Normal(x) => todo.push(x.to_os_string()),
                        Component::ParentDir => todo.push("..".into()),
                        _ => {}
                    }
                }
            }
            Ok(_) => return Err(unsafe_entry(entry, "a parent component is not a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                fs::create_dir(&path).map_err(io_err(format!("mkdir {}", path.display())))?;
                cur.push(c);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(unsafe_entry(
                    entry,
                    "a directory on the path does not exist",
                ))
            }
            Err(e) => return Err(io_err(format!("lstat {}", path.display()))(e)),
        }
    }
    Ok(join(root, &cur))
}

/// A directory resolved under the root by [`resolve_dir`], held open: the entries that follow
/// in the same directory (a layer lists a directory's files together) are created relative
/// to it, without walking and checking their path again. It stays valid as long as nothing
/// is removed under the root: whoever removes something drops it.
pub(crate) struct OpenDir {
    /// The entry's directory components it was resolved from.
    pub comps: Vec<OsString>,
    /// Where they resolved to.
    pub path: PathBuf,
    fd: OwnedFd,
}

impl OpenDir {
    /// Resolves `comps` (creating missing directories) and opens the result.
    pub(crate) fn resolve(root: &Path, comps: Vec<OsString>, entry: &str) -> Result<Self> {
        let path = resolve_dir(root, &comps, true, entry)?;
        // O_NOFOLLOW: resolve_dir's result contains no symlink, and nothing else writes
        // under the root meanwhile.
        let fd = nix::fcntl::open(
            &path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys_err("open", &path))?;
        Ok(Self { comps, path, fd })
    }

    /// Creates the regular file `name` here, for writing (mode 0600 until its metadata is
    /// applied); `None` when something already has that name (nothing is followed).
    pub(crate) fn create_file(&self, name: &OsStr) -> Result<Option<File>> {
        match nix::fcntl::openat(
            self.fd.as_fd(),
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => Ok(Some(File::from(fd))),
            Err(nix::errno::Errno::EEXIST) => Ok(None),
            Err(e) => Err(sys_err("creating", &self.path.join(name))(e)),
        }
    }

    /// Makes the directory `name` here; false when something already has that name.
    pub(crate) fn make_dir(&self, name: &OsStr) -> Result<bool> {
        match nix::sys::stat::mkdirat(self.fd.as_fd(), name, Mode::from_bits_truncate(0o700)) {
            Ok(()) => Ok(true),
            Err(nix::errno::Errno::EEXIST) => Ok(false),
            Err(e) => Err(sys_err("mkdir", &self.path.join(name))(e)),
        }
    }
}

fn join(root: &Path, comps: &[OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(comps);
    p
}

/// What [`clear_path`] found at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cleared {
    /// Nothing was there.
    Absent,
    /// A directory, kept.
    KeptDir,
    /// Something was there and is gone.
    Removed,
}

/// Removes whatever is at `path` (never following a symlink), unless it is a
/// directory and `keep_dir` is set.
pub(crate) fn clear_path(path: &Path, keep_dir: bool) -> Result<Cleared> {
    let m = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Cleared::Absent),
        Err(e) => return Err(io_err(format!("lstat {}", path.display()))(e)),
    };
    if m.is_dir() {
        if keep_dir {
            return Ok(Cleared::KeptDir);
        }
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
    .map_err(io_err(format!("removing {}", path.display())))?;
    Ok(Cleared::Removed)
}

/// Creates an overlay whiteout (a 0:0 character device) at `path`.
pub(crate) fn make_whiteout(path: &Path) -> Result<()> {
    nix::sys::stat::mknod(path, SFlag::S_IFCHR, Mode::empty(), 0).map_err(sys_err("mknod", path))
}

/// Marks `dir` opaque for overlayfs.
pub(crate) fn make_opaque(dir: &Path) -> Result<()> {
    xattr::set(dir, OPAQUE_XATTR, b"y").map_err(io_err(format!(
        "setting {OPAQUE_XATTR} on {}",
        dir.display()
    )))
}

/// Creates a device node or fifo.
pub(crate) fn make_node(path: &Path, kind: SFlag, major: u64, minor: u64) -> Result<()> {
    let dev = nix::sys::stat::makedev(major, minor);
    nix::sys::stat::mknod(path, kind, Mode::from_bits_truncate(0o600), dev)
        .map_err(sys_err("mknod", path))
}

/// Ownership, permissions, times and xattrs of one entry.
#[derive(Clone, Debug, Default)]
pub(crate) struct Meta {
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
    pub mtime: (i64, i64),
    pub xattrs: Vec<(OsString, Vec<u8>)>,
}

/// Applies `meta` to `path` without following a symlink there (`is_link` skips the
/// mode, which Linux does not keep for symlinks). Failures that an unprivileged
/// unpack must expect (chown, xattrs) become warnings.
pub(crate) fn apply_meta(
    path: &Path,
    meta: &Meta,
    is_link: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    owner_and_xattrs(
        path,
        meta,
        warnings,
        |u, g| std::os::unix::fs::lchown(path, Some(u), Some(g)),
        |name, value| xattr::set(path, name, value),
    )?;
    if !is_link {
        let perms = fs::Permissions::from_mode(meta.mode & 0o7777);
        fs::set_permissions(path, perms).map_err(io_err(format!("chmod {}", path.display())))?;
    }
    let t = TimeSpec::new(meta.mtime.0, meta.mtime.1);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(sys_err("utimensat", path))
}

/// Opens the root, for [`open_dir_beneath`].
pub(crate) fn open_root(root: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(root, BENEATH_FLAGS, Mode::empty()).map_err(sys_err("open", root))
}

const BENEATH_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Opens the directory at `path` (under the root `root_path`, open as `root`) for its
/// metadata, refusing every symlink on the way: `None` when a later entry replaced it, or a
/// directory above it, by something else. (A path walk would follow such a symlink out of the
/// root, to a host directory.)
pub(crate) fn open_dir_beneath(
    root: &OwnedFd,
    root_path: &Path,
    path: &Path,
) -> Result<Option<File>> {
    let rel = path.strip_prefix(root_path).unwrap_or(Path::new(""));
    let mut cur = root
        .try_clone()
        .map_err(io_err(format!("dup {}", root_path.display())))?;
    for comp in rel.components() {
        let Component::Normal(name) = comp else {
            return Ok(None);
        };
        cur = match nix::fcntl::openat(cur.as_fd(), name, BENEATH_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            // A symlink (ELOOP), not a directory any more, or gone.
            Err(
                nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR | nix::errno::Errno::ENOENT,
            ) => return Ok(None),
            Err(e) => return Err(sys_err("open", path)(e)),
        };
    }
    Ok(Some(File::from(cur)))
}

/// Ownership, then xattrs, of `path` through `chown` and `set_xattr` (by path or by
/// descriptor). What an unprivileged unpack must expect to fail (a chown refused, an xattr
/// the filesystem or the caller cannot set) becomes a warning.
fn owner_and_xattrs(
    path: &Path,
    meta: &Meta,
    warnings: &mut Vec<String>,
    chown: impl FnOnce(u32, u32) -> io::Result<()>,
    mut set_xattr: impl FnMut(&OsStr, &[u8]) -> io::Result<()>,
) -> Result<()> {
    match (u32::try_from(meta.uid), u32::try_from(meta.gid)) {
        (Ok(u), Ok(g)) => {
            if let Err(e) = chown(u, g) {
                if e.kind() != io::ErrorKind::PermissionDenied {
                    return Err(io_err(format!("chown {}", path.display()))(e));
                }
                warnings.push(format!("{}: cannot chown to {u}:{g}: {e}", path.display()));
            }
        }
        _ => warnings.push(format!("{}: uid/gid out of range", path.display())),
    }
    for (name, value) in &meta.xattrs {
        if let Err(e) = set_xattr(name, value) {
            warnings.push(format!(
                "{}: xattr {}: {e}",
                path.display(),
                name.to_string_lossy()
            ));
        }
    }
    Ok(())
}

/// [`apply_meta`] through an open descriptor (a file just written, a directory opened by
/// [`open_dir_beneath`]): no path is walked again. Ownership first: a chown clears the set-id
/// bits the mode then sets.
pub(crate) fn apply_meta_open(
    file: &File,
    path: &Path,
    meta: &Meta,
    warnings: &mut Vec<String>,
) -> Result<()> {
    owner_and_xattrs(
        path,
        meta,
        warnings,
        |u, g| std::os::unix::fs::fchown(file, Some(u), Some(g)),
        |name, value| xattr::FileExt::set_xattr(file, name, value),
    )?;
    nix::sys::stat::fchmod(file, Mode::from_bits_truncate(meta.mode & 0o7777))
        .map_err(sys_err("chmod", path))?;
    let t = TimeSpec::new(meta.mtime.0, meta.mtime.1);
    nix::sys::stat::futimens(file, &t, &t).map_err(sys_err("utimensat", path))
}

/// Header fields, overridden by PAX records (uid, gid, mtime, xattrs).
pub(crate) fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Meta> {
    let h = entry.header();
    let mut meta = Meta {
        uid: h.uid().map_err(layer_err)?,
        gid: h.gid().map_err(layer_err)?,
        mode: h.mode().map_err(layer_err)?,
        mtime: (h.mtime().map_err(layer_err)? as i64, 0),
        xattrs: Vec::new(),
    };
    let Some(pax) = entry.pax_extensions().map_err(layer_err)? else {
        return Ok(meta);
    };
    for ext in pax {
        let ext = ext.map_err(layer_err)?;
        let (Ok(key), value) = (ext.key(), ext.value_bytes()) else {
            continue;
        };
        let text = std::str::from_utf8(value).unwrap_or("");
        match key {
            "uid" => meta.uid = text.parse().unwrap_or(meta.uid),
            "gid" => meta.gid = text.parse().unwrap_or(meta.gid),
            "mtime" => meta.mtime = parse_pax_time(text).unwrap_or(meta.mtime),
            k => {
                if let Some(name) = k.strip_prefix(XATTR_PAX_PREFIX) {
                    meta.xattrs.push((OsString::from(name), value.to_vec()));
                }
            }
        }
    }
    Ok(meta)
}

/// `seconds[.fraction]` to (seconds, nanoseconds).
fn parse_pax_time(s: &str) -> Option<(i64, i64)> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos = if digits.is_empty() {
        0
    } else {
        digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32)
    };
    Some((secs, if secs < 0 { 0 } else { nanos }))
}
