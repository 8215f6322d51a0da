//! Building the container's filesystem view in its new mount namespace: mounts, device
//! nodes, pivot_root, masked and read-only paths. Runs in the container's init.

use crate::error::{Context, Error, Result};
use crate::mounts::{parse_options, propagation_flag, resolve_in_root};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

const NONE: Option<&str> = None;

/// The cgroup directories a `cgroup` mount exposes: (name under /sys/fs/cgroup, host dir).
pub type CgroupDirs = Vec<(String, PathBuf)>;

/// Everything up to (not including) pivot_root.
/// `join_cgroup` is called once before the first cgroup mount (which needs the container's
/// cgroup made and joined), or after the last mount when there is none.
pub fn prepare(
    rootfs: &Path,
    spec: &Spec,
    cgroups: &CgroupDirs,
    new_cgroupns: bool,
    join_cgroup: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    let linux = spec.linux().as_ref();
    let prop = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(propagation_flag)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    mount(NONE, "/", NONE, prop, NONE).ctx(|| "setting / propagation")?;
    // pivot_root needs the new root to be a mount point.
    mount(
        Some(rootfs),
        rootfs,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .ctx(|| format!("bind-mounting rootfs {}", rootfs.display()))?;

    let mut dev_is_tmpfs = false;
    let mut joined = false;
    for m in spec.mounts().iter().flatten() {
        if !joined && matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")) {
            join_cgroup()?;
            joined = true;
        }
        mount_one(rootfs, m, cgroups, new_cgroupns)?;
        if m.destination() == Path::new("/dev") && m.typ().as_deref() != Some("bind") {
            dev_is_tmpfs = true;
        }
    }
    let in_userns = spec
        .linux()
        .iter()
        .flat_map(|l| l.namespaces().iter().flatten())
        .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User);
    if !joined {
        join_cgroup()?;
    }
    if dev_is_tmpfs {
        default_devices(rootfs, in_userns)?;
    }
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        create_device(rootfs, d, in_userns)?;
    }
    Ok(())
}

fn mount_one(rootfs: &Path, m: &Mount, cgroups: &CgroupDirs, new_cgroupns: bool) -> Result<()> {
    let dest = resolve_in_root(rootfs, m.destination())?;
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    let typ = m
        .typ()
        .as_deref()
        .unwrap_or(if opts.bind { "bind" } else { "" });
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    let what = || {
        format!(
            "mounting {} on {}",
            source.display(),
            m.destination().display()
        )
    };

    if opts.bind || typ == "bind" {
        let src_meta =
            std::fs::metadata(&source).ctx(|| format!("bind source {}", source.display()))?;
        make_target(&dest, src_meta.is_dir())?;
        let rec = if opts.recursive {
            MsFlags::MS_REC
        } else {
            MsFlags::empty()
        };
        mount(Some(&source), &dest, NONE, MsFlags::MS_BIND | rec, NONE).ctx(what)?;
        let remount = opts.flags & !MsFlags::MS_REMOUNT;
        if !remount.is_empty() {
            mount(
                NONE,
                &dest,
                NONE,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | remount,
                NONE,
            )
            .ctx(|| format!("remounting {} with its options", m.destination().display()))?;
        }
    } else if typ == "cgroup" || typ == "cgroup2" {
        mount_cgroup(&dest, &opts, cgroups, new_cgroupns, typ)?;
    } else {
        make_target(&dest, true)?;
        let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
        let r = mount(Some(&source), &dest, Some(typ), opts.flags, data);
        match r {
            // sysfs cannot be mounted without a network namespace of our own: bind the host's.
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" => mount(
                Some("/sys"),
                &dest,
                NONE,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                NONE,
            )
            .ctx(what)?,
            r => r.ctx(what)?,
        }
    }
    for p in &opts.propagation {
        mount(NONE, &dest, NONE, *p, NONE)
            .ctx(|| format!("setting propagation of {}", m.destination().display()))?;
    }
    Ok(())
}

/// v2 (or a private cgroup namespace): the cgroup2 filesystem itself. v1: a tmpfs holding a
/// bind of the container's own directory in each controller hierarchy, like runc.
fn mount_cgroup(
    dest: &Path,
    opts: &crate::mounts::MountOpts,
    cgroups: &CgroupDirs,
    new_cgroupns: bool,
    typ: &str,
) -> Result<()> {
    make_target(dest, true)?;
    let flags = opts.flags | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if cgroups.len() == 1 && cgroups[0].0.is_empty() {
        // cgroup v2: one unified directory.
        if new_cgroupns || typ == "cgroup2" {
            return mount(Some("cgroup2"), dest, Some("cgroup2"), flags, NONE)
                .ctx(|| format!("mounting cgroup2 on {}", dest.display()));
        }
        return bind_ro(&cgroups[0].1, dest, flags);
    }
    mount(
        Some("tmpfs"),
        dest,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )
    .ctx(|| format!("mounting a tmpfs for cgroups on {}", dest.display()))?;
    for (name, dir) in cgroups {
        let sub = dest.join(name);
        make_target(&sub, true)?;
        bind_ro(dir, &sub, flags)?;
    }
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        mount(
            NONE,
            dest,
            NONE,
            MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC,
            Some("mode=755"),
        )
        .ctx(|| format!("remounting {} read-only", dest.display()))?;
    }
    Ok(())
}

fn bind_ro(src: &Path, dest: &Path, flags: MsFlags) -> Result<()> {
    mount(Some(src), dest, NONE, MsFlags::MS_BIND, NONE)
        .ctx(|| format!("bind-mounting {} on {}", src.display(), dest.display()))?;
    mount(
        NONE,
        dest,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags,
        NONE,
    )
    .ctx(|| format!("remounting {}", dest.display()))
}

fn make_target(dest: &Path, dir: bool) -> Result<()> {
    if dir {
        std::fs::create_dir_all(dest).ctx(|| format!("creating mount point {}", dest.display()))
    } else {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .ctx(|| format!("creating directory {}", parent.display()))?;
        }
        if !dest.exists() {
            std::fs::File::create(dest)
                .ctx(|| format!("creating mount point {}", dest.display()))?;
        }
        Ok(())
    }
}

/// The devices every container gets, as runc and the runtime spec list them.
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

fn default_devices(rootfs: &Path, in_userns: bool) -> Result<()> {
    let dev = rootfs.join("dev");
    for (name, major, minor) in DEFAULT_DEVICES {
        make_node(
            &dev.join(name),
            SFlag::S_IFCHR,
            major,
            minor,
            0o666,
            in_userns,
        )?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ] {
        let p = dev.join(link);
        // Whatever is there already stays (a fresh /dev tmpfs has nothing).
        match std::os::unix::fs::symlink(target, &p) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            r => r.ctx(|| format!("symlink {}", p.display()))?,
        }
    }
    let ptmx = dev.join("ptmx");
    if dev.join("pts/ptmx").exists() {
        let _ = std::fs::remove_file(&ptmx);
        std::os::unix::fs::symlink("pts/ptmx", &ptmx).ctx(|| "symlink /dev/ptmx")?;
    }
    Ok(())
}

fn create_device(rootfs: &Path, d: &LinuxDevice, in_userns: bool) -> Result<()> {
    let path = resolve_in_root(rootfs, d.path())?;
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(Error::Config(format!(
                "device {}: type 'a' is only valid in cgroup rules",
                d.path().display()
            )))
        }
    };
    let mode = d.file_mode().unwrap_or(0o666);
    make_node(
        &path,
        kind,
        d.major() as u64,
        d.minor() as u64,
        mode,
        in_userns,
    )?;
    if d.uid().is_some() || d.gid().is_some() {
        nix::unistd::chown(
            &path,
            d.uid().map(nix::unistd::Uid::from_raw),
            d.gid().map(nix::unistd::Gid::from_raw),
        )
        .ctx(|| format!("chown {}", path.display()))?;
    }
    Ok(())
}

/// mknod, or — where a user namespace forbids it — bind-mount the host's node.
fn make_node(
    path: &Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    in_userns: bool,
) -> Result<()> {
    if !in_userns {
        // One mknod on a fresh /dev; a missing directory or an existing file costs a retry.
        let node = || {
            mknod(
                path,
                kind,
                Mode::from_bits_truncate(mode),
                makedev(major, minor),
            )
        };
        let r = match node() {
            Err(nix::errno::Errno::ENOENT) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .ctx(|| format!("creating {}", parent.display()))?;
                }
                node()
            }
            Err(nix::errno::Errno::EEXIST) => {
                let _ = std::fs::remove_file(path);
                node()
            }
            r => r,
        };
        return r.ctx(|| format!("mknod {}", path.display()));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
    }
    let _ = std::fs::remove_file(path);
    std::fs::File::create(path).ctx(|| format!("creating {}", path.display()))?;
    let host = Path::new("/dev").join(path.file_name().unwrap_or_default());
    mount(Some(&host), path, NONE, MsFlags::MS_BIND, NONE)
        .ctx(|| format!("bind-mounting {} into the container", host.display()))
}

/// Make `rootfs` the root: pivot_root(".", ".") then lazily detach the old root stacked on top.
pub fn pivot(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
    crate::sys::pivot_root(".", ".")?;
    // The old root is now mounted over "."; keep unmount events from reaching the host.
    mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
        .ctx(|| "making old root rslave")?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "detaching the old root")?;
    nix::unistd::chdir("/").ctx(|| "chdir /")
}

/// After pivot_root: sysctls (while /proc/sys is writable), read-only paths, then masked
/// paths (runc's order), then a read-only root.
pub fn finish(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    for (k, v) in linux
        .and_then(|l| l.sysctl().as_ref())
        .into_iter()
        .flatten()
    {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        std::fs::write(&path, v).ctx(|| format!("setting sysctl {k}={v}"))?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        let r = mount(
            Some(p.as_str()),
            p.as_str(),
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        );
        match r {
            Err(nix::errno::Errno::ENOENT) => continue,
            r => r.ctx(|| format!("bind-mounting read-only path {p}"))?,
        }
        remount_locked(p, MsFlags::MS_REC).ctx(|| format!("remounting {p} read-only"))?;
    }
    let mut source = None;
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => mask_dir(p, &mut source)?,
            Ok(_) => mount(Some("/dev/null"), p.as_str(), NONE, MsFlags::MS_BIND, NONE)
                .ctx(|| format!("masking {p}"))?,
            Err(_) => {}
        }
    }
    if source == Some(true) {
        std::fs::remove_dir(MASK_SOURCE).ctx(|| format!("removing {MASK_SOURCE}"))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        mount(
            NONE,
            "/",
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            NONE,
        )
        .ctx(|| "remounting the root read-only")?;
    }
    Ok(())
}

/// Where masked directories' empty directory is made, in the container's `/dev` tmpfs.
const MASK_SOURCE: &str = "/dev/.berth-masked";

/// Masks a directory with a read-only bind of one empty directory that no longer exists
/// once all are masked (made in the container's `/dev` at the first, removed after the
/// last), so nothing can ever be created in it. runc mounts a tmpfs on each instead, a
/// superblock apiece, and every superblock costs kernel memory, in every memory cgroup of the
/// host too (docs/runtime.md). `source` is whether that directory was made (`None` before the
/// first); where `/dev` is not writable, each gets a read-only tmpfs as in runc.
fn mask_dir(p: &str, source: &mut Option<bool>) -> Result<()> {
    let made = *source.get_or_insert_with(|| {
        std::fs::DirBuilder::new()
            .mode(0o555)
            .create(MASK_SOURCE)
            .is_ok()
    });
    if !made {
        return mount(Some("tmpfs"), p, Some("tmpfs"), MsFlags::MS_RDONLY, NONE)
            .ctx(|| format!("masking {p}"));
    }
    mount(Some(MASK_SOURCE), p, NONE, MsFlags::MS_BIND, NONE).ctx(|| format!("masking {p}"))?;
    remount_locked(p, MsFlags::empty()).ctx(|| format!("masking {p} read-only"))
}

/// Remounts the bind mount at `p` read-only, nosuid, nodev and noexec (`extra`: `MS_REC`).
fn remount_locked(p: &str, extra: MsFlags) -> nix::Result<()> {
    mount(
        NONE,
        p,
        NONE,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | extra,
        NONE,
    )
}
