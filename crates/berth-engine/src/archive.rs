//! `docker cp`: stat a path in a container, stream it out as a tar, extract a tar into a
//! directory of it. Every path is resolved inside the container's root with openat2(2)
//! `RESOLVE_IN_ROOT` (symlinks and `..` cannot leave it), and trees are walked and written
//! through directory fds with `O_NOFOLLOW`, so neither a hostile archive nor the container's
//! own symlinks (swapped mid-copy or not) reach the host.
//!
//! A running container's root is `/proc/<pid>/root` (its volumes and tmpfs mounts are seen);
//! a stopped or created one has its overlay mounted for the copy at a private place, and a
//! path at or under one of its volumes or bind mounts is served from the mount's source.
//! Volumes and binds deeper inside a copied tree of a stopped container are not included.

use crate::container::{ContainerRecord, MountPoint, Status};
use crate::engine::Engine;
use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags,
    FileStat, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// docker's `ContainerPathStat`, sent base64-encoded in `X-Docker-Container-Path-Stat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStat {
    /// The base name of the path as asked (`.` for `dir/.`).
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` bits.
    pub mode: u32,
    /// RFC 3339.
    pub mtime: String,
    /// For a symlink: the absolute path it resolves to in the container.
    pub link_target: String,
}

/// `PUT /containers/{id}/archive` options.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExtractOpts {
    /// Refuse to replace a directory with a non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Own every extracted file by the container's user instead of the archive's ids.
    pub copy_uid_gid: bool,
}

/// A path opened for `GET /containers/{id}/archive`: its stat for the header, then its tar.
pub struct ArchiveSource {
    stat: PathStat,
    /// The name of the archive's top entry.
    top: Vec<u8>,
    target: Target,
    // Last, so that every fd above is closed before the rootfs is unmounted.
    _root: Root,
}

impl ArchiveSource {
    pub fn stat(&self) -> &PathStat {
        &self.stat
    }

    /// Write the tar of the path (recursively for a directory) into `w`.
    pub fn write_tar<W: Write>(self, w: W) -> Result<()> {
        let mut t = Tarrer {
            b: tar::Builder::new(BufWriter::with_capacity(64 << 10, w)),
            links: HashMap::new(),
        };
        let top = match &self.target.name {
            // A root without a name (an export): its entries only.
            None if self.top.is_empty() => reopen_dir(self.target.dir.as_fd())
                .map(Some)
                .map_err(io::Error::from),
            None => reopen_dir(self.target.dir.as_fd())
                .and_then(|fd| Ok((fstat(&fd)?, fd)))
                .map_err(io::Error::from)
                .and_then(|(st, fd)| t.dir_header(&st, &self.top).map(|()| Some(fd))),
            Some(n) => t.add_at(self.target.dir.as_fd(), n, &self.top),
        };
        top.and_then(|dir| match dir {
            Some(fd) => t.walk(fd, &self.top),
            None => Ok(()),
        })
        .and_then(|()| t.b.into_inner()?.flush())
        .ctx(|| "writing the archive".into())
    }
}

impl Engine {
    /// `HEAD /containers/{id}/archive?path=`.
    pub fn archive_stat(&self, name: &str, path: &str) -> Result<PathStat> {
        Ok(self.archive_open(name, path)?.stat)
    }

    /// `GET /containers/{id}/archive?path=`: the path opened, ready to be written as a tar.
    pub fn archive_open(&self, name: &str, path: &str) -> Result<ArchiveSource> {
        if path.is_empty() {
            return Err(Error::Invalid("Path cannot be empty".into()));
        }
        let p = CPath::parse(path);
        let rec = self.find(name)?;
        let (root, inner) = self.open_root(&rec, &p.comps, false)?;
        let not_found = |e: Errno| match e {
            Errno::ENOENT | Errno::ENOTDIR => Error::NotFound(format!(
                "Could not find the file {path} in container {name}"
            )),
            e => sys(format!("resolving {path} in the container"))(e),
        };
        let target = locate(root.fd.as_fd(), &inner, p.follows()).map_err(not_found)?;
        let st = match &target.name {
            None => fstat(&target.dir),
            Some(n) => fstatat(&target.dir, n.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW),
        }
        .map_err(not_found)?;
        let link_target = if kind(&st) == SFlag::S_IFLNK {
            let real = real_path(root.fd.as_fd(), &inner).map_err(not_found)?;
            to_abs(root.prefix.iter().chain(&real))
        } else {
            String::new()
        };
        let stat = PathStat {
            name: p.base(),
            size: st.st_size,
            mode: go_mode(st.st_mode),
            mtime: rfc3339(st.st_mtime, st.st_mtime_nsec),
            link_target,
        };
        // docker names the entries by the base name of the path as asked.
        let top = p.base().into_bytes();
        Ok(ArchiveSource {
            stat,
            top,
            target,
            _root: root,
        })
    }

    /// `GET /containers/{id}/export`: the container's own filesystem (its image's layers and
    /// its changes; not its volumes, binds or kernel filesystems), its entries named from
    /// the root without a prefix, as `docker export` writes them.
    pub fn export_open(&self, name: &str) -> Result<ArchiveSource> {
        let rec = self.find(name)?;
        let root = match rec.state.status {
            Status::Running | Status::Paused | Status::Restarting if rec.state.pid > 0 => {
                let rootfs = self.container_dir(&rec.id).join("rootfs");
                let fd = open_plain_dir(&rootfs)
                    .map_err(sys(format!("opening the rootfs of container {}", rec.id)))?;
                Root {
                    fd,
                    prefix: Vec::new(),
                    _hold: None,
                }
            }
            _ => self.open_root(&rec, &[], false)?.0,
        };
        let dir = reopen_dir(root.fd.as_fd()).map_err(sys("opening the container rootfs"))?;
        let st = fstat(&dir).map_err(sys("reading the container rootfs"))?;
        Ok(ArchiveSource {
            stat: PathStat {
                name: "/".into(),
                size: st.st_size,
                mode: go_mode(st.st_mode),
                mtime: rfc3339(st.st_mtime, st.st_mtime_nsec),
                link_target: String::new(),
            },
            top: Vec::new(),
            target: Target { dir, name: None },
            _root: root,
        })
    }

    /// `PUT /containers/{id}/archive?path=`: extract the tar read from `r` into the directory
    /// `path` of the container.
    pub fn archive_extract(
        &self,
        name: &str,
        path: &str,
        opts: ExtractOpts,
        r: impl Read,
    ) -> Result<()> {
        if path.is_empty() {
            return Err(Error::Invalid("Path cannot be empty".into()));
        }
        let p = CPath::parse(path);
        let rec = self.find(name)?;
        check_writable(&rec, &p.comps)?;
        let (root, inner) = self.open_root(&rec, &p.comps, true)?;
        match open_dir(root.fd.as_fd(), &inner) {
            Ok(_) => {}
            Err(Errno::ENOENT) => {
                return Err(Error::NotFound(format!(
                    "Could not find the file {path} in container {name}"
                )))
            }
            Err(Errno::ENOTDIR) => {
                return Err(Error::Invalid("extraction point is not a directory".into()))
            }
            Err(e) => return Err(sys(format!("resolving {path} in the container"))(e)),
        }
        let owner = if opts.copy_uid_gid {
            container_user(root.fd.as_fd(), &rec.config.user)?
        } else {
            None
        };
        let mut x = Extractor {
            root: root.fd.as_fd(),
            dest: inner,
            dest_str: p.abs(),
            opts,
            owner,
            dirs: Vec::new(),
            cache: None,
        };
        let res = x.run(r);
        x.finish_dirs();
        res.map_err(|e| match e {
            Error::Io { source, .. } if source.raw_os_error() == Some(libc::EROFS) => {
                Error::Invalid("container rootfs is marked read-only".into())
            }
            e => e,
        })
    }

    /// The container's filesystem root for a copy, and `path` relative to it.
    fn open_root(
        &self,
        rec: &ContainerRecord,
        path: &[OsString],
        write: bool,
    ) -> Result<(Root, Vec<OsString>)> {
        match rec.state.status {
            Status::Running | Status::Paused | Status::Restarting if rec.state.pid > 0 => {
                let proc_root = format!("/proc/{}/root", rec.state.pid);
                let fd = open_plain_dir(Path::new(&proc_root))
                    .map_err(sys(format!("opening the root of container {}", rec.id)))?;
                return Ok((
                    Root {
                        fd,
                        prefix: Vec::new(),
                        _hold: None,
                    },
                    path.to_vec(),
                ));
            }
            s if s.is_live() || matches!(s, Status::Creating | Status::Removing) => {
                return Err(Error::State(format!(
                    "container {} is {}: try again once it has settled",
                    rec.id,
                    s.docker()
                )))
            }
            _ => {}
        }
        if let Some((m, n)) = mount_of(rec, path) {
            if let Ok(fd) = open_plain_dir(Path::new(&m.source)) {
                if write && !m.rw {
                    return Err(Error::Invalid("mounted volume is marked read-only".into()));
                }
                let root = Root {
                    fd,
                    prefix: path[..n].to_vec(),
                    _hold: None,
                };
                return Ok((root, path[n..].to_vec()));
            }
        }
        let hold = self.hold_rootfs(rec)?;
        let fd = open_plain_dir(&hold.mountpoint).map_err(sys("opening the container rootfs"))?;
        Ok((
            Root {
                fd,
                prefix: Vec::new(),
                _hold: Some(hold),
            },
            path.to_vec(),
        ))
    }

    /// Mount a stopped container's overlay at its private copy mountpoint (shared by the
    /// copies running at the same time), and keep the container from starting or being
    /// removed until the returned hold is dropped.
    fn hold_rootfs(&self, rec: &ContainerRecord) -> Result<Hold> {
        let dir = self.container_dir(&rec.id);
        let mountpoint = dir.join("cp");
        {
            let map = self.lock();
            let cur = map
                .get(&rec.id)
                .ok_or_else(|| Error::no_container(&rec.id))?;
            let s = cur.state.status;
            if s.is_live() || matches!(s, Status::Creating | Status::Removing) {
                return Err(Error::State(format!(
                    "container {} is {}: try again once it has settled",
                    rec.id,
                    s.docker()
                )));
            }
            holds().entry(mountpoint.clone()).or_default().users += 1;
        }
        let hold = Hold { mountpoint };
        let mut h = holds();
        let users = h.entry(hold.mountpoint.clone()).or_default();
        if !users.mounted {
            std::fs::create_dir_all(&hold.mountpoint)
                .ctx(|| format!("creating {}", hold.mountpoint.display()))?;
            // One left by a daemon that died mid-copy.
            let _ = detach(&hold.mountpoint);
            let lowers = self.rootfs_lowers(rec)?;
            berth_image::mount_overlay(
                &lowers,
                &dir.join("upper"),
                &dir.join("work"),
                &hold.mountpoint,
            )?;
            users.mounted = true;
        }
        drop(h);
        Ok(hold)
    }

    /// Err while a copy holds the container's rootfs (a start or a remove waits for it).
    pub(crate) fn check_not_copying(&self, id: &str) -> Result<()> {
        let mp = self.container_dir(id).join("cp");
        if holds().get(&mp).is_some_and(|u| u.users > 0) {
            return Err(Error::Conflict(format!(
                "container {id} is busy: a copy to or from it is in progress"
            )));
        }
        Ok(())
    }

    /// Take down a copy mountpoint left behind (by a daemon that died mid-copy).
    pub(crate) fn drop_copy_mount(&self, id: &str) {
        let mp = self.container_dir(id).join("cp");
        if holds().get(&mp).is_none_or(|u| u.users == 0) {
            let _ = detach(&mp);
            let _ = std::fs::remove_dir(&mp);
        }
    }
}

/// Users of each stopped container's copy mount.
#[derive(Default)]
struct Users {
    users: usize,
    mounted: bool,
}

static HOLDS: Mutex<BTreeMap<PathBuf, Users>> = Mutex::new(BTreeMap::new());

fn holds() -> MutexGuard<'static, BTreeMap<PathBuf, Users>> {
    HOLDS.lock().unwrap_or_else(|p| p.into_inner())
}

/// One copy's use of a stopped container's rootfs mount; the last one out unmounts it.
struct Hold {
    mountpoint: PathBuf,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut h = holds();
        let Some(u) = h.get_mut(&self.mountpoint) else {
            return;
        };
        u.users = u.users.saturating_sub(1);
        if u.users == 0 {
            if u.mounted {
                let _ = detach(&self.mountpoint);
                let _ = std::fs::remove_dir(&self.mountpoint);
            }
            h.remove(&self.mountpoint);
        }
    }
}

/// Unmount, lazily if something still holds it open.
fn detach(target: &Path) -> nix::Result<()> {
    use nix::mount::{umount2, MntFlags};
    umount2(target, MntFlags::UMOUNT_NOFOLLOW)
        .or_else(|_| umount2(target, MntFlags::UMOUNT_NOFOLLOW | MntFlags::MNT_DETACH))
}

/// The directory every path of a copy is resolved in.
struct Root {
    fd: OwnedFd,
    /// Where this root sits in the container (a volume's destination), for link targets.
    prefix: Vec<OsString>,
    _hold: Option<Hold>,
}

/// A path as docker reads it: joined to `/` and cleaned, remembering a trailing `/` or `/.`.
#[derive(Debug, PartialEq, Eq)]
struct CPath {
    comps: Vec<OsString>,
    /// Ends in `/.` (or is `.`): "the contents of".
    dot: bool,
    /// Ends in `/`.
    slash: bool,
}

impl CPath {
    fn parse(p: &str) -> CPath {
        let trimmed = p.trim_end_matches('/');
        CPath {
            comps: clean(p.as_bytes()).unwrap_or_default(),
            dot: trimmed == "." || trimmed.ends_with("/."),
            slash: p.ends_with('/'),
        }
    }

    /// Whether the last component is followed when it is a symlink.
    fn follows(&self) -> bool {
        self.dot || self.slash
    }

    /// `/a/b`.
    fn abs(&self) -> String {
        to_abs(&self.comps)
    }

    /// Go's `filepath.Base` of docker's absolute path.
    fn base(&self) -> String {
        if self.dot {
            return ".".into();
        }
        match self.comps.last() {
            Some(c) => c.to_string_lossy().into_owned(),
            None => "/".into(),
        }
    }
}

fn to_abs<'a>(comps: impl IntoIterator<Item = &'a OsString>) -> String {
    let mut s = String::new();
    for c in comps {
        s.push('/');
        s.push_str(&c.to_string_lossy());
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// Components of `p` with `.` and empty ones dropped and `..` applied lexically; None when a
/// `..` climbs above the start (a leading `/` counts as the start).
fn clean(p: &[u8]) -> Option<Vec<OsString>> {
    let mut out: Vec<OsString> = Vec::new();
    for c in p.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop()?;
            }
            c => out.push(OsStr::from_bytes(c).to_os_string()),
        }
    }
    Some(out)
}

/// Like `clean`, but `..` at the top stays there (docker cleans container paths this way).
fn clean_abs(p: &[u8]) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    for c in p.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(OsStr::from_bytes(c).to_os_string()),
        }
    }
    out
}

/// The deepest volume or bind mount holding `path`, and how many components it covers.
fn mount_of<'a>(rec: &'a ContainerRecord, path: &[OsString]) -> Option<(&'a MountPoint, usize)> {
    rec.mounts
        .iter()
        .filter(|m| m.typ != "tmpfs")
        .filter_map(|m| {
            let d = clean_abs(m.destination.as_bytes());
            path.starts_with(&d).then_some((m, d.len()))
        })
        .max_by_key(|(_, n)| *n)
}

/// docker's rule: a path in a read-only mount, or outside every mount of a container with a
/// read-only rootfs, cannot be written.
fn check_writable(rec: &ContainerRecord, path: &[OsString]) -> Result<()> {
    let deepest = rec
        .mounts
        .iter()
        .map(|m| (clean_abs(m.destination.as_bytes()), m.rw))
        .chain(rec.tmpfs.iter().map(|(d, o)| {
            (
                clean_abs(d.as_bytes()),
                !o.split(',').any(|x| x.trim() == "ro"),
            )
        }))
        .filter(|(d, _)| path.starts_with(d))
        .max_by_key(|(d, _)| d.len());
    match deepest {
        Some((_, false)) => Err(Error::Invalid("mounted volume is marked read-only".into())),
        Some((_, true)) => Ok(()),
        None if rec.host_config.readonly_rootfs => Err(Error::Invalid(
            "container rootfs is marked read-only".into(),
        )),
        None => Ok(()),
    }
}

fn sys(what: impl Into<String>) -> impl FnOnce(Errno) -> Error {
    let context = what.into();
    move |e| Error::Io {
        context,
        source: io::Error::from(e),
    }
}

fn join(comps: &[OsString]) -> OsString {
    if comps.is_empty() {
        return ".".into();
    }
    let mut v = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            v.push(b'/');
        }
        v.extend_from_slice(c.as_bytes());
    }
    OsString::from_vec(v)
}

/// Open `path` under `root` as if `root` were `/`.
fn open_in_root(root: BorrowedFd, path: &[OsString], flags: OFlag) -> nix::Result<OwnedFd> {
    let p = join(path);
    let how = || {
        OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
    };
    // EAGAIN: a rename raced the resolution of a `..`; the kernel asks for a retry.
    let mut tries = 0;
    loop {
        match openat2(root, p.as_os_str(), how()) {
            Err(Errno::EAGAIN) if tries < 16 => tries += 1,
            r => return r,
        }
    }
}

/// The directory `path` under `root` (symlinks followed inside it).
fn open_dir(root: BorrowedFd, path: &[OsString]) -> nix::Result<OwnedFd> {
    open_in_root(root, path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
}

/// A host directory (the root itself).
fn open_plain_dir(p: &Path) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        p,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// A fresh open of a directory fd (its own read position).
fn reopen_dir(dir: BorrowedFd) -> nix::Result<OwnedFd> {
    openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// What a copy path names: `name` in `dir`, or `dir` itself.
struct Target {
    dir: OwnedFd,
    name: Option<OsString>,
}

/// Resolve every component but the last (or all of them, with `follow`) inside `root`.
fn locate(root: BorrowedFd, path: &[OsString], follow: bool) -> nix::Result<Target> {
    match path.split_last() {
        Some((last, parent)) if !follow => Ok(Target {
            dir: open_dir(root, parent)?,
            name: Some(last.clone()),
        }),
        _ => Ok(Target {
            dir: open_dir(root, path)?,
            name: None,
        }),
    }
}

/// Where `path` really is in `root`: symlinks resolved one by one, never leaving root.
fn real_path(root: BorrowedFd, path: &[OsString]) -> nix::Result<Vec<OsString>> {
    let mut done: Vec<OsString> = Vec::new();
    let mut pending: Vec<OsString> = path.iter().rev().cloned().collect();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            done.pop();
            continue;
        }
        if c.is_empty() || c == "." {
            continue;
        }
        let dir = open_dir(root, &done)?;
        match readlinkat(&dir, c.as_os_str()) {
            Ok(target) => {
                hops += 1;
                if hops > 40 {
                    return Err(Errno::ELOOP);
                }
                if target.as_bytes().starts_with(b"/") {
                    done.clear();
                }
                pending.extend(
                    target
                        .as_bytes()
                        .split(|b| *b == b'/')
                        .rev()
                        .map(|s| OsStr::from_bytes(s).to_os_string()),
                );
            }
            Err(_) => done.push(c),
        }
    }
    Ok(done)
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Go's `os.FileMode` for a `st_mode`.
fn go_mode(m: u32) -> u32 {
    let mut g = m & 0o777;
    g |= match SFlag::from_bits_truncate(m & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => 1 << 31,
        SFlag::S_IFLNK => 1 << 27,
        SFlag::S_IFBLK => 1 << 26,
        SFlag::S_IFCHR => (1 << 26) | (1 << 21),
        SFlag::S_IFIFO => 1 << 25,
        SFlag::S_IFSOCK => 1 << 24,
        _ => 0,
    };
    if m & libc::S_ISUID != 0 {
        g |= 1 << 23;
    }
    if m & libc::S_ISGID != 0 {
        g |= 1 << 22;
    }
    if m & libc::S_ISVTX != 0 {
        g |= 1 << 20;
    }
    g
}

fn rfc3339(sec: i64, nsec: i64) -> String {
    let t = std::time::UNIX_EPOCH
        + std::time::Duration::new(sec.max(0) as u64, nsec.clamp(0, 999_999_999) as u32);
    humantime::format_rfc3339_nanos(t).to_string()
}

/// Writes a tree into a tar, reading it through directory fds only.
struct Tarrer<W: Write> {
    b: tar::Builder<W>,
    /// Files with several links already written: (dev, ino) → their entry name.
    links: HashMap<(u64, u64), Vec<u8>>,
}

impl<W: Write> Tarrer<W> {
    fn header(st: &FileStat, t: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(t);
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(st.st_uid.into());
        h.set_gid(st.st_gid.into());
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        h
    }

    /// Append an entry with `name` (and `link`) written as they are, through a PAX record
    /// when too long for the header: docker's names (`./x`, `//x`) are not normalised.
    fn append(
        &mut self,
        mut h: tar::Header,
        name: &[u8],
        link: Option<&[u8]>,
        data: impl Read,
    ) -> io::Result<()> {
        let mut pax = Vec::new();
        let old = h.as_old_mut();
        if name.len() <= old.name.len() {
            old.name[..name.len()].copy_from_slice(name);
        } else {
            pax.extend(pax_record("path", name));
            old.name.copy_from_slice(&name[..100]);
        }
        if let Some(l) = link {
            if l.len() <= old.linkname.len() {
                old.linkname[..l.len()].copy_from_slice(l);
            } else {
                pax.extend(pax_record("linkpath", l));
                old.linkname.copy_from_slice(&l[..100]);
            }
        }
        if !pax.is_empty() {
            let mut x = tar::Header::new_ustar();
            x.set_entry_type(tar::EntryType::XHeader);
            x.set_mode(0o644);
            x.set_size(pax.len() as u64);
            let n = b"././@PaxHeader";
            x.as_old_mut().name[..n.len()].copy_from_slice(n);
            x.set_cksum();
            self.b.append(&x, &pax[..])?;
        }
        h.set_cksum();
        self.b.append(&h, data)
    }

    /// `name` in `dir`, as `tname`; a directory's entry only, and its fd to walk.
    fn add_at(
        &mut self,
        dir: BorrowedFd,
        name: &OsStr,
        tname: &[u8],
    ) -> io::Result<Option<OwnedFd>> {
        let st = match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Gone since it was listed.
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match kind(&st) {
            SFlag::S_IFDIR => {
                let fd = match openat(
                    dir,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                self.dir_header(&fstat(&fd)?, tname)?;
                Ok(Some(fd))
            }
            SFlag::S_IFREG => {
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&(st.st_dev, st.st_ino)).cloned() {
                        let h = Self::header(&st, tar::EntryType::Link);
                        return self
                            .append(h, tname, Some(&first), io::empty())
                            .map(|()| None);
                    }
                }
                let fd = match openat(
                    dir,
                    name,
                    OFlag::O_RDONLY
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_NONBLOCK
                        | OFlag::O_NOCTTY
                        | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => fd,
                    Err(Errno::ENOENT | Errno::ELOOP) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                let st = fstat(&fd)?;
                if kind(&st) != SFlag::S_IFREG {
                    return Ok(None);
                }
                let size = st.st_size.max(0) as u64;
                let mut h = Self::header(&st, tar::EntryType::Regular);
                h.set_size(size);
                // Exactly `size` bytes even if the file changes meanwhile.
                let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
                self.append(h, tname, None, data)?;
                if st.st_nlink > 1 {
                    self.links.insert((st.st_dev, st.st_ino), tname.to_vec());
                }
                Ok(None)
            }
            SFlag::S_IFLNK => {
                let target = match readlinkat(dir, name) {
                    Ok(t) => t,
                    Err(Errno::ENOENT | Errno::EINVAL) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                let h = Self::header(&st, tar::EntryType::Symlink);
                self.append(h, tname, Some(target.as_bytes()), io::empty())
                    .map(|()| None)
            }
            k @ (SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO) => {
                let t = match k {
                    SFlag::S_IFCHR => tar::EntryType::Char,
                    SFlag::S_IFBLK => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                };
                let mut h = Self::header(&st, t);
                if k != SFlag::S_IFIFO {
                    h.set_device_major(libc::major(st.st_rdev))?;
                    h.set_device_minor(libc::minor(st.st_rdev))?;
                }
                self.append(h, tname, None, io::empty()).map(|()| None)
            }
            // Sockets are not archived (docker skips them too).
            _ => Ok(None),
        }
    }

    /// A directory's own entry (named with a trailing `/`, as docker names them).
    fn dir_header(&mut self, st: &FileStat, tname: &[u8]) -> io::Result<()> {
        let mut own = tname.to_vec();
        if !own.ends_with(b"/") {
            own.push(b'/');
        }
        let h = Self::header(st, tar::EntryType::Directory);
        self.append(h, &own, None, io::empty())
    }

    /// Everything under the directory open as `fd` (named `tname`), depth first. A loop
    /// rather than recursion: however deep a container's tree, the daemon's stack is safe.
    fn walk(&mut self, fd: OwnedFd, tname: &[u8]) -> io::Result<()> {
        let names = list(fd.as_fd())?.into_iter();
        let mut stack = vec![(fd, names, tname.to_vec())];
        while let Some((dir, names, base)) = stack.last_mut() {
            let Some(n) = names.next() else {
                stack.pop();
                continue;
            };
            let mut child = base.clone();
            if !child.is_empty() {
                child.push(b'/');
            }
            child.extend_from_slice(n.as_bytes());
            if let Some(sub) = self.add_at(dir.as_fd(), &n, &child)? {
                let names = list(sub.as_fd())?.into_iter();
                stack.push((sub, names, child));
            }
        }
        Ok(())
    }
}

/// One PAX record: `LEN key=value\n`, LEN counting itself.
fn pax_record(key: &str, val: &[u8]) -> Vec<u8> {
    let rest = key.len() + val.len() + 3;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut v = format!("{len} {key}=").into_bytes();
    v.extend_from_slice(val);
    v.push(b'\n');
    v
}

/// The names in a directory, sorted.
fn list(dir: BorrowedFd) -> io::Result<Vec<OsString>> {
    let mut d = nix::dir::Dir::from_fd(reopen_dir(dir)?)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsString::from_vec(n.to_vec()));
        }
    }
    names.sort();
    Ok(names)
}

/// Read a small file of the container (for `/etc/passwd` and `/etc/group`).
fn read_in_root(root: BorrowedFd, path: &str) -> String {
    let comps = clean_abs(path.as_bytes());
    let Ok(fd) = open_in_root(root, &comps, OFlag::O_RDONLY | OFlag::O_NONBLOCK) else {
        return String::new();
    };
    let mut s = String::new();
    let _ = File::from(fd).take(4 << 20).read_to_string(&mut s);
    s
}

/// The container's user (`Config.User`) as ids, read from its own passwd and group files.
fn container_user(root: BorrowedFd, user: &str) -> Result<Option<(u32, u32)>> {
    if user.is_empty() {
        return Ok(None);
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = read_in_root(root, "/etc/passwd");
    let row = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && (f[0] == u || f[2] == u));
    let uid = match (u.parse::<u32>(), &row) {
        (Ok(n), _) => n,
        (Err(_), Some(f)) => f[2].parse().unwrap_or(0),
        (Err(_), None) => {
            return Err(Error::Invalid(format!(
                "unable to find user {u}: no matching entries in passwd file"
            )))
        }
    };
    let gid = match g {
        None => row.and_then(|f| f[3].parse().ok()).unwrap_or(0),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => crate::spec::lookup_group(&read_in_root(root, "/etc/group"), g)?,
        },
    };
    Ok(Some((uid, gid)))
}

/// Extracts a tar into a directory of a container, everything resolved inside its root.
struct Extractor<'a> {
    root: BorrowedFd<'a>,
    /// The destination directory, relative to the root.
    dest: Vec<OsString>,
    /// The destination as the client named it (for messages).
    dest_str: String,
    opts: ExtractOpts,
    owner: Option<(u32, u32)>,
    /// Directories made or merged, and their mtimes: set last, after their contents.
    dirs: Vec<(Vec<OsString>, i64)>,
    /// The last parent directory used.
    cache: Option<(Vec<OsString>, OwnedFd)>,
}

/// An error in the archive itself (400).
fn bad(e: io::Error) -> Error {
    Error::Invalid(format!("Error processing tar file: {e}"))
}

impl Extractor<'_> {
    fn run(&mut self, r: impl Read) -> Result<()> {
        let mut ar = tar::Archive::new(r);
        for e in ar.entries().map_err(bad)? {
            let mut e = e.map_err(bad)?;
            let raw = e.path_bytes().into_owned();
            let Some(rel) = clean(&raw) else {
                return Err(Error::Invalid(format!(
                    "Error processing tar file: {:?} is outside of {:?}",
                    String::from_utf8_lossy(&raw),
                    self.dest_str
                )));
            };
            // The destination itself (`.`) is left as it is, as docker does.
            let Some((name, parent)) = rel.split_last() else {
                continue;
            };
            let t = e.header().entry_type();
            if !matches!(
                t,
                tar::EntryType::Directory
                    | tar::EntryType::Regular
                    | tar::EntryType::Continuous
                    | tar::EntryType::GNUSparse
                    | tar::EntryType::Symlink
                    | tar::EntryType::Link
                    | tar::EntryType::Char
                    | tar::EntryType::Block
                    | tar::EntryType::Fifo
            ) {
                continue;
            }
            let h = e.header();
            let mode = Mode::from_bits_truncate(h.mode().map_err(bad)? & 0o7777);
            let (uid, gid) = match self.owner {
                Some(o) => o,
                // Lenient with empty numeric fields, like GNU tar.
                None => (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32),
            };
            let mtime = h.mtime().unwrap_or(0) as i64;
            let dev = match t {
                tar::EntryType::Char | tar::EntryType::Block => libc::makedev(
                    h.device_major().map_err(bad)?.unwrap_or(0),
                    h.device_minor().map_err(bad)?.unwrap_or(0),
                ),
                _ => 0,
            };
            let link = e
                .link_name_bytes()
                .map(|l| l.into_owned())
                .unwrap_or_default();
            let ts = TimeSpec::new(mtime, 0);
            let pfd = self.parent(parent)?;
            let here = {
                let mut full = self.dest.clone();
                full.extend(rel.iter().cloned());
                to_abs(&full)
            };
            let fail = |e: Errno| sys(format!("extracting {here}"))(e);
            let is_dir = t == tar::EntryType::Directory;
            let merge = self.make_room(&pfd, name, is_dir, &here)?;
            let name = name.as_os_str();
            match t {
                tar::EntryType::Directory => {
                    if !merge {
                        mkdirat(&pfd, name, Mode::from_bits_truncate(0o700)).map_err(fail)?;
                    }
                    let fd = openat(
                        &pfd,
                        name,
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(fail)?;
                    fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                        .map_err(fail)?;
                    fchmod(&fd, mode).map_err(fail)?;
                    self.dirs.push((rel.clone(), mtime));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if t == tar::EntryType::Symlink {
                        symlinkat(OsStr::from_bytes(&link), &pfd, name).map_err(fail)?;
                    } else {
                        let Some(target) = clean(&link).filter(|t| !t.is_empty()) else {
                            return Err(Error::Invalid(format!(
                                "Error processing tar file: invalid hardlink {:?} -> {:?}",
                                String::from_utf8_lossy(&raw),
                                String::from_utf8_lossy(&link)
                            )));
                        };
                        let (tname, tparent) = target.split_at(target.len() - 1);
                        let tdir = self.parent(tparent)?;
                        linkat(&tdir, tname[0].as_os_str(), &pfd, name, AtFlags::empty())
                            .map_err(fail)?;
                        continue;
                    }
                    fchownat(
                        &pfd,
                        name,
                        Some(Uid::from_raw(uid)),
                        Some(Gid::from_raw(gid)),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(fail)?;
                    let _ = utimensat(&pfd, name, &ts, &ts, UtimensatFlags::NoFollowSymlink);
                }
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    let k = match t {
                        tar::EntryType::Fifo => SFlag::S_IFIFO,
                        tar::EntryType::Char => SFlag::S_IFCHR,
                        _ => SFlag::S_IFBLK,
                    };
                    mknodat(&pfd, name, k, mode, dev).map_err(fail)?;
                    fchownat(
                        &pfd,
                        name,
                        Some(Uid::from_raw(uid)),
                        Some(Gid::from_raw(gid)),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(fail)?;
                    // chmod through an O_PATH fd of the node itself: never through a symlink.
                    let fd = openat(
                        &pfd,
                        name,
                        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(fail)?;
                    if kind(&fstat(&fd).map_err(fail)?) == k {
                        let proc = format!("/proc/self/fd/{}", fd.as_raw_fd());
                        fchmodat(
                            nix::fcntl::AT_FDCWD,
                            proc.as_str(),
                            mode,
                            FchmodatFlags::FollowSymlink,
                        )
                        .map_err(fail)?;
                    }
                    let _ = utimensat(&pfd, name, &ts, &ts, UtimensatFlags::NoFollowSymlink);
                }
                _ => {
                    let fd = openat(
                        &pfd,
                        name,
                        OFlag::O_WRONLY
                            | OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o600),
                    )
                    .map_err(fail)?;
                    let mut f = File::from(fd);
                    copy_data(&mut e, &mut f).map_err(|x| match x {
                        Copy::Read(e) => bad(e),
                        Copy::Write(e) => Error::Io {
                            context: format!("extracting {here}"),
                            source: e,
                        },
                    })?;
                    fchown(&f, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).map_err(fail)?;
                    fchmod(&f, mode).map_err(fail)?;
                    let _ = futimens(&f, &ts, &ts);
                }
            }
        }
        Ok(())
    }

    /// The directory `dest/rel`, made (0755, like docker) where missing.
    fn parent(&mut self, rel: &[OsString]) -> Result<OwnedFd> {
        if let Some((p, fd)) = &self.cache {
            if p == rel {
                return fd.try_clone().ctx(|| "duplicating a directory fd".into());
            }
        }
        let mut full = self.dest.clone();
        full.extend(rel.iter().cloned());
        let fd = self.make_dir_all(&full)?;
        let keep = fd.try_clone().ctx(|| "duplicating a directory fd".into())?;
        self.cache = Some((rel.to_vec(), keep));
        Ok(fd)
    }

    fn make_dir_all(&self, full: &[OsString]) -> Result<OwnedFd> {
        // The deepest directory that exists, then the missing ones below it, one by one.
        let mut have = full.len();
        let mut fd = loop {
            match open_dir(self.root, &full[..have]) {
                Ok(fd) => break fd,
                Err(Errno::ENOENT) if have > 0 => have -= 1,
                Err(e) => return Err(sys(format!("opening {}", to_abs(full)))(e)),
            }
        };
        for i in have..full.len() {
            match mkdirat(&fd, full[i].as_os_str(), Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(sys(format!("creating {}", to_abs(&full[..=i])))(e)),
            }
            fd = open_dir(self.root, &full[..=i])
                .map_err(sys(format!("opening {}", to_abs(&full[..=i]))))?;
        }
        Ok(fd)
    }

    /// Clear the way for `name`: true when it is a directory to merge into.
    fn make_room(&mut self, pfd: &OwnedFd, name: &OsStr, is_dir: bool, here: &str) -> Result<bool> {
        let st = match fstatat(pfd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(false),
            Err(e) => return Err(sys(format!("extracting {here}"))(e)),
        };
        let was_dir = kind(&st) == SFlag::S_IFDIR;
        if was_dir && is_dir {
            return Ok(true);
        }
        if self.opts.no_overwrite_dir_non_dir {
            if was_dir {
                return Err(Error::Invalid(format!(
                    "cannot overwrite directory {:?} with non-directory {:?}",
                    here, self.dest_str
                )));
            }
            if is_dir {
                return Err(Error::Invalid(format!(
                    "cannot overwrite non-directory {:?} with directory {:?}",
                    here, self.dest_str
                )));
            }
        }
        self.cache = None;
        let gone = if was_dir {
            remove_all_at(pfd.as_fd(), name)
        } else {
            unlinkat(pfd, name, UnlinkatFlags::NoRemoveDir)
        };
        gone.map_err(sys(format!("replacing {here}")))?;
        Ok(false)
    }

    /// Give the directories their archive mtimes, deepest first.
    fn finish_dirs(&mut self) {
        self.cache = None;
        while let Some((rel, mtime)) = self.dirs.pop() {
            let mut full = self.dest.clone();
            full.extend(rel);
            if let Ok(fd) = open_dir(self.root, &full) {
                let ts = TimeSpec::new(mtime, 0);
                let _ = futimens(&fd, &ts, &ts);
            }
        }
    }
}

enum Copy {
    Read(io::Error),
    Write(io::Error),
}

/// Stream an entry's data into a file, telling the archive's faults from the disk's.
fn copy_data(r: &mut impl Read, w: &mut impl Write) -> std::result::Result<(), Copy> {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        w.write_all(&buf[..n]).map_err(Copy::Write)?;
    }
}

/// Remove `name` in `dir` and everything under it, never following a symlink (a loop, not
/// recursion, for trees of any depth).
fn remove_all_at(dir: BorrowedFd, name: &OsStr) -> nix::Result<()> {
    let open = |d: BorrowedFd, n: &OsStr| -> nix::Result<(OwnedFd, std::vec::IntoIter<OsString>)> {
        let fd = openat(
            d,
            n,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let names = list(fd.as_fd()).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
        Ok((fd, names.into_iter()))
    };
    let (fd, names) = open(dir, name)?;
    let mut stack = vec![(fd, names, name.to_os_string())];
    while let Some((fd, names, _)) = stack.last_mut() {
        match names.next() {
            Some(n) => match fstatat(&*fd, n.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if kind(&st) == SFlag::S_IFDIR => {
                    let (sub, names) = open(fd.as_fd(), &n)?;
                    stack.push((sub, names, n));
                }
                Ok(_) => unlinkat(&*fd, n.as_os_str(), UnlinkatFlags::NoRemoveDir)?,
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            },
            None => {
                let Some((_, _, n)) = stack.pop() else { break };
                let parent = stack.last().map(|(fd, _, _)| fd.as_fd()).unwrap_or(dir);
                unlinkat(parent, n.as_os_str(), UnlinkatFlags::RemoveDir)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn paths_are_read_as_docker_reads_them() {
        let p = CPath::parse("/etc/hosts");
        assert_eq!(p.comps, os(&["etc", "hosts"]));
        assert_eq!((p.base().as_str(), p.follows()), ("hosts", false));
        let p = CPath::parse("data/.");
        assert_eq!((p.abs().as_str(), p.base().as_str()), ("/data", "."));
        assert!(p.follows());
        let p = CPath::parse("/a/b/");
        assert_eq!((p.base().as_str(), p.follows()), ("b", true));
        assert_eq!(CPath::parse("/").base(), "/");
        assert_eq!(CPath::parse("/../..").comps, os(&[]));
        assert_eq!(clean(b"a/./b/../c"), Some(os(&["a", "c"])));
        assert_eq!(clean(b"/abs/x"), Some(os(&["abs", "x"])));
        assert_eq!(clean(b"a/../../escape"), None);
        assert_eq!(clean(b"./"), Some(os(&[])));
    }

    #[test]
    fn modes_are_go_file_modes() {
        assert_eq!(go_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_mode(libc::S_IFREG | 0o4644), (1 << 23) | 0o644);
        assert_eq!(go_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(
            go_mode(libc::S_IFCHR | 0o666),
            (1 << 26) | (1 << 21) | 0o666
        );
    }

    #[test]
    fn pax_records_count_their_own_length() {
        let r = pax_record("path", b"x");
        assert_eq!(r, b"9 path=x\n");
        for n in [90, 91, 92, 95, 990, 995] {
            let r = pax_record("path", &vec![b'a'; n]);
            let len = String::from_utf8_lossy(&r)
                .split(' ')
                .next()
                .unwrap()
                .to_string();
            assert_eq!(len, r.len().to_string());
        }
    }

    #[test]
    fn a_tree_round_trips_through_tar_and_stays_inside_the_root() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("d/sub")).unwrap();
        std::fs::write(src.path().join("d/sub/f"), b"hello").unwrap();
        std::os::unix::fs::symlink("/", src.path().join("d/up")).unwrap();
        let root = open_plain_dir(src.path()).unwrap();
        let t = locate(root.as_fd(), &os(&["d"]), false).unwrap();
        let mut tr = Tarrer {
            b: tar::Builder::new(Vec::new()),
            links: HashMap::new(),
        };
        let sub = tr.add_at(t.dir.as_fd(), t.name.as_ref().unwrap(), b"d");
        tr.walk(sub.unwrap().unwrap(), b"d").unwrap();
        let out = tr.b.into_inner().unwrap();
        let names: Vec<String> = tar::Archive::new(&out[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["d/", "d/sub/", "d/sub/f", "d/up"]);

        // Extract into a second root: through the `up -> /` symlink lands inside it.
        let dst = tempfile::tempdir().unwrap();
        std::fs::create_dir(dst.path().join("in")).unwrap();
        let droot = open_plain_dir(dst.path()).unwrap();
        let mut x = Extractor {
            root: droot.as_fd(),
            dest: os(&["in"]),
            dest_str: "/in".into(),
            opts: ExtractOpts::default(),
            owner: None,
            dirs: Vec::new(),
            cache: None,
        };
        x.run(&out[..]).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, "d/up/pwned", &b"hi"[..]).unwrap();
        let second = b.into_inner().unwrap();
        x.run(&second[..]).unwrap();
        x.finish_dirs();
        assert_eq!(
            std::fs::read(dst.path().join("in/d/sub/f")).unwrap(),
            b"hello"
        );
        assert_eq!(std::fs::read(dst.path().join("pwned")).unwrap(), b"hi");
    }

    #[test]
    fn deep_trees_are_walked_and_removed_without_recursion() {
        let top = tempfile::tempdir().unwrap();
        let root = open_plain_dir(top.path()).unwrap();
        let mut fd = root.try_clone().unwrap();
        for _ in 0..3000 {
            mkdirat(&fd, "d", Mode::from_bits_truncate(0o755)).unwrap();
            fd = openat(
                &fd,
                "d",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                Mode::empty(),
            )
            .unwrap();
        }
        std::fs::write(format!("/proc/self/fd/{}/leaf", fd.as_raw_fd()), b"x").unwrap();
        drop(fd);
        let mut tr = Tarrer {
            b: tar::Builder::new(io::sink()),
            links: HashMap::new(),
        };
        let sub = tr.add_at(root.as_fd(), OsStr::new("d"), b"d").unwrap();
        tr.walk(sub.unwrap(), b"d").unwrap();
        remove_all_at(root.as_fd(), OsStr::new("d")).unwrap();
        assert!(!top.path().join("d").exists());
    }
}
