//! Finding the cgroup hierarchies: pure v2 (cgroup2 on /sys/fs/cgroup) or v1 controllers
//! each on their own mount (a hybrid host's cgroup2 at .../unified is ignored).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Where cgroup filesystems are mounted by convention.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// v1 controllers as they appear in a cgroup mount's superblock options.
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// (controllers of the mount, comma-joined like "cpu,cpuacct" or "name=systemd"; mount point)
    V1 { mounts: Vec<(String, PathBuf)> },
    /// The unified hierarchy, rooted at its mountpoint.
    V2 { root: PathBuf },
}

impl Hierarchy {
    /// Detect this host's hierarchy: from `/sys/fs/cgroup` and `/proc/self/cgroup` when they
    /// tell it plainly (`detect_plain`), else from /proc/self/mountinfo.
    pub fn detect() -> Result<Hierarchy> {
        if let Some(h) = Self::detect_plain() {
            return Ok(h);
        }
        let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| Error::Fs {
            op: "reading",
            path: "/proc/self/mountinfo".into(),
            source,
        })?;
        Self::from_mountinfo(&text)
    }

    /// The common layouts without reading /proc/self/mountinfo, whose text the kernel makes
    /// afresh at each read and which grows with every mount on the host: each container's
    /// overlay adds a line with its long layer paths (at 400 containers, reading it was a
    /// quarter of a shim's start). Pure v2 when /sys/fs/cgroup is cgroup2. On v1, the
    /// hierarchies come from /proc/self/cgroup, each expected at its conventional
    /// /sys/fs/cgroup/<controllers> (`name=` dropped): that must be a v1 cgroup mount with
    /// files of each of its controllers. `None` when anything does not fit.
    fn detect_plain() -> Option<Hierarchy> {
        let root = Path::new(CGROUP_ROOT);
        match fs_type(root)? {
            CGROUP2_SUPER_MAGIC => {
                return Some(Hierarchy::V2 {
                    root: root.to_path_buf(),
                })
            }
            TMPFS_MAGIC => {}
            _ => return None,
        }
        let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        Self::from_proc_cgroup(&text, |dir, ctrls| {
            fs_type(dir) == Some(CGROUP_SUPER_MAGIC) && has_files_of(dir, ctrls)
        })
    }

    /// The v1 part of /proc/self/cgroup text ("ID:controllers:path" lines, in descending ID
    /// order), each hierarchy placed at /sys/fs/cgroup/<controllers> when `mounted(dir,
    /// controllers)` says it is there. `None` when one is not, or when there is no v1 line.
    fn from_proc_cgroup(text: &str, mounted: impl Fn(&Path, &[&str]) -> bool) -> Option<Hierarchy> {
        let mut v1 = Vec::new();
        for line in text.lines().rev() {
            let mut f = line.splitn(3, ':');
            let (Some(_id), Some(ctrls)) = (f.next(), f.next()) else {
                continue;
            };
            if ctrls.is_empty() {
                continue; // the v2 line of a hybrid host
            }
            let all: Vec<&str> = ctrls.split(',').collect();
            let dir = match all.as_slice() {
                [name] if name.starts_with("name=") => name["name=".len()..].to_string(),
                _ if all.iter().any(|c| c.starts_with("name=")) => return None,
                _ => ctrls.to_string(),
            };
            let known: Vec<&str> = all
                .iter()
                .copied()
                .filter(|c| V1_CONTROLLERS.contains(c) || c.starts_with("name="))
                .collect();
            let path = Path::new(CGROUP_ROOT).join(dir);
            let real: Vec<&str> = known
                .iter()
                .copied()
                .filter(|c| !c.starts_with("name="))
                .collect();
            if known.is_empty() || !mounted(&path, &real) {
                return None;
            }
            v1.push((known.join(","), path));
        }
        (!v1.is_empty()).then_some(Hierarchy::V1 { mounts: v1 })
    }

    /// Parse /proc/self/mountinfo text. Pure v2 when the mount visible on /sys/fs/cgroup is
    /// cgroup2; otherwise v1 from the `cgroup` mounts (a hybrid host's cgroup2 on
    /// /sys/fs/cgroup/unified is ignored). With no v1 mount at all, a cgroup2 mounted
    /// elsewhere is used.
    pub fn from_mountinfo(text: &str) -> Result<Hierarchy> {
        let mut root_is_v2 = false;
        let mut other_v2: Option<PathBuf> = None;
        let mut v1: Vec<(String, PathBuf)> = Vec::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(dash) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            let (Some(mnt), Some(fstype)) = (fields.get(4), fields.get(dash + 1)) else {
                continue;
            };
            let opts = fields.get(dash + 3).copied().unwrap_or("");
            let mnt = PathBuf::from(unescape(mnt));
            if mnt == Path::new(CGROUP_ROOT) {
                // A later mount on the same place hides the earlier one.
                root_is_v2 = *fstype == "cgroup2";
            }
            match *fstype {
                "cgroup2" => {
                    other_v2.get_or_insert(mnt);
                }
                "cgroup" => add_v1(&mut v1, opts, mnt),
                _ => {}
            }
        }
        if root_is_v2 {
            return Ok(Hierarchy::V2 {
                root: PathBuf::from(CGROUP_ROOT),
            });
        }
        if !v1.is_empty() {
            return Ok(Hierarchy::V1 { mounts: v1 });
        }
        match other_v2 {
            Some(root) => Ok(Hierarchy::V2 { root }),
            None => Err(Error::Invalid(
                "no cgroup filesystem is mounted (neither cgroup2 nor v1 controllers)".into(),
            )),
        }
    }

    /// A v2 hierarchy rooted at `root` (tests, or a cgroup2 mounted elsewhere).
    pub fn v2_at(root: PathBuf) -> Hierarchy {
        Hierarchy::V2 { root }
    }

    /// A v1 hierarchy from (controllers, mountpoint) pairs; joined controllers may be given
    /// as "cpu,cpuacct" or once each with the same mountpoint.
    pub fn v1_at(mounts: Vec<(String, PathBuf)>) -> Hierarchy {
        Hierarchy::V1 { mounts }
    }

    /// Whether this is the unified (v2) hierarchy.
    pub fn is_v2(&self) -> bool {
        matches!(self, Hierarchy::V2 { .. })
    }

    /// v1: the mount point of the hierarchy holding `controller`.
    pub fn v1_mount(&self, controller: &str) -> Option<&Path> {
        match self {
            Hierarchy::V1 { mounts } => mounts
                .iter()
                .find(|(c, _)| c.split(',').any(|x| x == controller))
                .map(|(_, p)| p.as_path()),
            Hierarchy::V2 { .. } => None,
        }
    }
}

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// The filesystem type (statfs `f_type`) at `path`.
fn fs_type(path: &Path) -> Option<i64> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statfs writes into the zeroed struct it is given and reads the NUL-terminated
    // path; both outlive the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    (r == 0).then_some(st.f_type as i64)
}

/// A file each of these v1 controllers has in its hierarchy's root directory (freezer and
/// pids, for two, have none there).
const ROOT_FILES: &[(&str, &str)] = &[
    ("cpu", "cpu.shares"),
    ("cpuacct", "cpuacct.usage"),
    ("cpuset", "cpuset.cpus"),
    ("memory", "memory.usage_in_bytes"),
    ("blkio", "blkio.reset_stats"),
    ("devices", "devices.list"),
    ("net_cls", "net_cls.classid"),
    ("net_prio", "net_prio.ifpriomap"),
];

/// Whether the root cgroup directory `dir` has the root file of each controller that has one:
/// that the hierarchy mounted there is the one expected.
fn has_files_of(dir: &Path, ctrls: &[&str]) -> bool {
    ROOT_FILES
        .iter()
        .filter(|(c, _)| ctrls.contains(c))
        .all(|(_, file)| dir.join(file).exists())
}

/// Record one v1 mount: its controllers (comma-joined, "name=..." kept) and mountpoint. The
/// same hierarchy seen twice (a bind mount elsewhere) keeps the mount under /sys/fs/cgroup.
fn add_v1(v1: &mut Vec<(String, PathBuf)>, opts: &str, mnt: PathBuf) {
    let ctrls: Vec<&str> = opts
        .split(',')
        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
        .collect();
    if ctrls.is_empty() {
        return;
    }
    let ctrls = ctrls.join(",");
    match v1.iter_mut().find(|(c, _)| *c == ctrls) {
        Some(entry) => {
            if !entry.1.starts_with(CGROUP_ROOT) && mnt.starts_with(CGROUP_ROOT) {
                entry.1 = mnt;
            }
        }
        None => v1.push((ctrls, mnt)),
    }
}

/// mountinfo escapes spaces and friends as \040 etc.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v as char);
                i += 4;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
24 1 254:0 / / rw,relatime - ext4 /dev/vda rw
27 24 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
28 27 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
29 27 0:24 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
30 27 0:25 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
31 27 0:26 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
32 27 0:27 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
33 27 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
34 27 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct,release_agent=/x
";

    /// This machine's /proc/self/mountinfo (cgroup v1 with an empty cgroup2 on .../unified).
    const REAL_HYBRID: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334460k,nr_inodes=3083615,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
29 26 0:26 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const PURE_V2: &str = "\
24 1 254:0 / / rw,relatime - ext4 /dev/vda rw
25 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn plain_detection_agrees_with_mountinfo_on_this_host() {
        let Some(plain) = Hierarchy::detect_plain() else {
            eprintln!("SKIP: this host's cgroup layout is not a plain one");
            return;
        };
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let sorted = |h: Hierarchy| match h {
            Hierarchy::V1 { mut mounts } => {
                mounts.sort();
                Hierarchy::V1 { mounts }
            }
            v2 => v2,
        };
        assert_eq!(
            sorted(plain),
            sorted(Hierarchy::from_mountinfo(&text).unwrap())
        );
    }

    #[test]
    fn proc_cgroup_lines_give_the_v1_hierarchies_at_their_places() {
        let text = "\
10:cpu,cpuacct:/a
9:name=systemd:/user.slice
8:memory:/x
0::/user.slice
";
        let h = Hierarchy::from_proc_cgroup(text, |_, _| true).unwrap();
        assert_eq!(
            h,
            Hierarchy::V1 {
                mounts: vec![
                    ("memory".into(), PathBuf::from("/sys/fs/cgroup/memory")),
                    (
                        "name=systemd".into(),
                        PathBuf::from("/sys/fs/cgroup/systemd")
                    ),
                    (
                        "cpu,cpuacct".into(),
                        PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
                    ),
                ]
            }
        );
        // One hierarchy not where convention puts it: mountinfo must decide.
        let missing = |p: &Path, _: &[&str]| !p.ends_with("systemd");
        assert_eq!(Hierarchy::from_proc_cgroup(text, missing), None);
        // Only the v2 line, or a named hierarchy with controllers: mountinfo too.
        assert_eq!(Hierarchy::from_proc_cgroup("0::/\n", |_, _| true), None);
        assert_eq!(
            Hierarchy::from_proc_cgroup("3:cpu,name=x:/\n", |_, _| true),
            None
        );
        // The controllers checked are the real ones.
        let seen = std::cell::RefCell::new(Vec::new());
        Hierarchy::from_proc_cgroup(text, |_, c| {
            seen.borrow_mut().push(c.join(","));
            true
        });
        assert_eq!(*seen.borrow(), ["memory", "", "cpu,cpuacct"]);
    }

    #[test]
    fn hybrid_host_is_v1() {
        let h = Hierarchy::from_mountinfo(HYBRID).unwrap();
        assert!(!h.is_v2());
        assert_eq!(
            h.v1_mount("memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory")
        );
        assert_eq!(h.v1_mount("cpu").unwrap(), Path::new("/sys/fs/cgroup/cpu"));
        assert!(h.v1_mount("net_cls").is_none());
        let Hierarchy::V1 { mounts } = &h else {
            panic!()
        };
        assert!(mounts.iter().any(|(c, _)| c == "name=systemd"));
        assert!(mounts.iter().any(|(c, _)| c == "cpu,cpuacct"));
    }

    #[test]
    fn real_hybrid_sample() {
        let h = Hierarchy::from_mountinfo(REAL_HYBRID).unwrap();
        let Hierarchy::V1 { mounts } = &h else {
            panic!("expected v1, got {h:?}")
        };
        let names: Vec<&str> = mounts.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "cpu",
                "cpuacct",
                "cpuset",
                "memory",
                "devices",
                "freezer",
                "blkio",
                "pids",
                "name=systemd"
            ]
        );
        assert_eq!(
            h.v1_mount("freezer").unwrap(),
            Path::new("/sys/fs/cgroup/freezer")
        );
        assert!(h.v1_mount("hugetlb").is_none());
        assert!(h.v1_mount("net_cls").is_none());
    }

    #[test]
    fn joined_controllers_and_options() {
        let h = Hierarchy::from_mountinfo(HYBRID).unwrap();
        let Hierarchy::V1 { mounts } = &h else {
            panic!()
        };
        // release_agent=, rw are options, not controllers.
        assert!(mounts
            .iter()
            .all(|(c, _)| !c.contains("rw") && !c.contains("release")));
    }

    #[test]
    fn last_mount_on_the_root_wins_and_cgroup2_elsewhere() {
        let text = "\
27 24 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw
28 27 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 24 0:40 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
";
        assert_eq!(
            Hierarchy::from_mountinfo(text).unwrap(),
            Hierarchy::v2_at("/sys/fs/cgroup".into())
        );
        let text = "25 24 0:26 / /run/my\\040cg rw - cgroup2 none rw\n";
        assert_eq!(
            Hierarchy::from_mountinfo(text).unwrap(),
            Hierarchy::v2_at("/run/my cg".into())
        );
    }

    #[test]
    fn pure_v2_host() {
        let h = Hierarchy::from_mountinfo(PURE_V2).unwrap();
        assert!(h.is_v2());
    }

    #[test]
    fn no_cgroups_is_an_error() {
        assert!(Hierarchy::from_mountinfo("24 1 254:0 / / rw - ext4 /dev/vda rw\n").is_err());
    }
}
