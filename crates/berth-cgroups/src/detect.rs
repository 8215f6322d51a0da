//! Finding the cgroup hierarchies: pure v2 (cgroup2 on /sys/fs/cgroup) or v1 controllers
//! each on their own mount (a hybrid host's cgroup2 at .../unified is ignored).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The host's cgroup layout.
#[derive(Debug, Clone)]
pub enum Hierarchy {
    /// (controllers of the mount, comma-joined like "cpu,cpuacct" or "name=systemd"; mount point)
    V1 {
        mounts: Vec<(String, PathBuf)>,
    },
    V2 {
        root: PathBuf,
    },
}

impl Hierarchy {
    pub fn detect() -> Result<Hierarchy> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| Error::Fs {
            op: "reading",
            path: "/proc/self/mountinfo".into(),
            source,
        })?;
        Self::from_mountinfo(&text)
    }

    pub fn from_mountinfo(text: &str) -> Result<Hierarchy> {
        let mut v1 = Vec::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(dash) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            let (Some(mnt), Some(fstype), Some(opts)) =
                (fields.get(4), fields.get(dash + 1), fields.get(dash + 3))
            else {
                continue;
            };
            match *fstype {
                "cgroup2" if *mnt == "/sys/fs/cgroup" => {
                    return Ok(Hierarchy::V2 {
                        root: PathBuf::from(mnt),
                    })
                }
                "cgroup" => {
                    let ctrls: Vec<&str> = opts
                        .split(',')
                        .filter(|o| {
                            !matches!(*o, "rw" | "ro")
                                && (!o.contains('=') || o.starts_with("name="))
                        })
                        .collect();
                    v1.push((ctrls.join(","), PathBuf::from(unescape(mnt))));
                }
                _ => {}
            }
        }
        if v1.is_empty() {
            return Err(Error::Invalid(
                "no cgroup filesystem is mounted (neither cgroup2 on /sys/fs/cgroup nor v1 controllers)"
                    .into(),
            ));
        }
        Ok(Hierarchy::V1 { mounts: v1 })
    }

    pub fn v2_at(root: PathBuf) -> Hierarchy {
        Hierarchy::V2 { root }
    }

    pub fn v1_at(mounts: Vec<(String, PathBuf)>) -> Hierarchy {
        Hierarchy::V1 { mounts }
    }

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

    const PURE_V2: &str = "\
24 1 254:0 / / rw,relatime - ext4 /dev/vda rw
25 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

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
    fn pure_v2_host() {
        let h = Hierarchy::from_mountinfo(PURE_V2).unwrap();
        assert!(h.is_v2());
    }

    #[test]
    fn no_cgroups_is_an_error() {
        assert!(Hierarchy::from_mountinfo("24 1 254:0 / / rw - ext4 /dev/vda rw\n").is_err());
    }
}
