//! cgroups v1 and v2, detected at run time: create a container's cgroup, write its limits,
//! move processes in, freeze/thaw, kill everything in it, read stats, remove it.

mod detect;
mod devices_bpf;
mod error;
mod freezer;
mod fsutil;
mod stats;
mod v1;
mod v2;

pub use detect::Hierarchy;
pub use error::{Error, Result};
pub use stats::Stats;
pub use v1::{device_rule, new_device_rule};
pub use v2::{blkio_to_io_weight, shares_to_weight};

use fsutil::{mkdir_p, read, rmdir_tree, write};
use oci_spec::runtime::LinuxResources;
use std::path::{Component, Path, PathBuf};

/// A container's cgroup: one directory per v1 hierarchy, or one v2 directory.
#[derive(Debug, Clone)]
pub struct Cgroup {
    hierarchy: Hierarchy,
    /// Relative to each hierarchy's root; `..` and the leading `/` removed.
    rel: PathBuf,
}

/// Controllers a new v2 cgroup should have enabled, when the parent offers them.
const V2_CONTROLLERS: [&str; 6] = ["cpu", "cpuset", "io", "memory", "pids", "hugetlb"];

impl Cgroup {
    /// The cgroup at `path` ("/berth/<id>" or an OCI cgroupsPath; relative paths count from
    /// each hierarchy's root, and `..` cannot climb out of it). Touches nothing.
    pub fn new(h: &Hierarchy, path: &str) -> Cgroup {
        let rel = Path::new(path)
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s),
                _ => None,
            })
            .collect();
        Cgroup {
            hierarchy: h.clone(),
            rel,
        }
    }

    /// Every directory of this cgroup: (controllers of the hierarchy, dir), one per distinct
    /// mountpoint. v2: ("", dir).
    fn dirs(&self) -> Vec<(String, PathBuf)> {
        match &self.hierarchy {
            Hierarchy::V1 { mounts } => {
                let mut out: Vec<(String, PathBuf)> = Vec::new();
                for (c, m) in mounts {
                    let dir = m.join(&self.rel);
                    match out.iter_mut().find(|(_, d)| *d == dir) {
                        Some(entry) => {
                            entry.0.push(',');
                            entry.0.push_str(c);
                        }
                        None => out.push((c.clone(), dir)),
                    }
                }
                out
            }
            Hierarchy::V2 { root } => vec![(String::new(), root.join(&self.rel))],
        }
    }

    /// v1: the directory for one controller.
    fn dir(&self, controller: &str) -> Option<PathBuf> {
        self.hierarchy
            .v1_mount(controller)
            .map(|m| m.join(&self.rel))
    }

    /// For mounting inside the container: (name under /sys/fs/cgroup, host directory). v1:
    /// one entry per hierarchy, named like its host mountpoint ("cpu,cpuacct", "systemd");
    /// v2: one entry with an empty name.
    pub fn mount_dirs(&self) -> Vec<(String, PathBuf)> {
        match &self.hierarchy {
            Hierarchy::V2 { root } => vec![(String::new(), root.join(&self.rel))],
            Hierarchy::V1 { mounts } => {
                let mut out: Vec<(String, PathBuf)> = Vec::new();
                for (_, m) in mounts {
                    let Some(name) = m.file_name() else { continue };
                    let name = name.to_string_lossy().into_owned();
                    if !out.iter().any(|(n, _)| *n == name) {
                        out.push((name, m.join(&self.rel)));
                    }
                }
                out
            }
        }
    }

    /// Whether any of the cgroup's directories exists.
    pub fn exists(&self) -> bool {
        self.dirs().iter().any(|(_, d)| d.is_dir())
    }

    /// Create the directories (`mkdir -p` in every hierarchy). v2: enable cpu, cpuset, io,
    /// memory, pids and hugetlb in each ancestor's cgroup.subtree_control where offered.
    /// v1 cpuset: copy cpuset.cpus/mems down into every new level, or it cannot take tasks.
    pub fn create(&self) -> Result<()> {
        match &self.hierarchy {
            Hierarchy::V2 { root } => self.create_v2(root),
            Hierarchy::V1 { .. } => {
                for (ctrls, dir) in self.dirs() {
                    mkdir_p(&dir)?;
                    if ctrls.split(',').any(|c| c == "cpuset") {
                        self.init_cpuset(&dir)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// A new v1 cpuset dir has empty cpus/mems: copy them down from the nearest ancestor.
    fn init_cpuset(&self, leaf: &Path) -> Result<()> {
        let mut chain: Vec<&Path> = leaf.ancestors().collect();
        chain.reverse();
        for pair in chain.windows(2) {
            let (parent, child) = (pair[0], pair[1]);
            if !child.join("cpuset.cpus").exists() {
                continue;
            }
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if read(child, f)?.trim().is_empty() {
                    write(child, f, read(parent, f)?.trim())?;
                }
            }
        }
        Ok(())
    }

    fn create_v2(&self, root: &Path) -> Result<()> {
        let mut dir = root.to_path_buf();
        for comp in self.rel.components() {
            let offered = read(&dir, "cgroup.controllers").unwrap_or_default();
            for c in V2_CONTROLLERS {
                if offered.split_whitespace().any(|o| o == c) {
                    // A controller the parent cannot delegate is not fatal here; a limit that
                    // needs it will fail with a clear message when written.
                    let _ = write(&dir, "cgroup.subtree_control", format!("+{c}"));
                }
            }
            dir.push(comp);
            if !dir.is_dir() {
                mkdir_p(&dir)?;
            }
        }
        Ok(())
    }

    /// Write the limits of `r` (at create time and for `update`). See `v1::apply` and
    /// `v2::apply`; on v2 the device rules become an eBPF program (`devices_bpf`).
    pub fn apply(&self, r: &LinuxResources) -> Result<()> {
        match &self.hierarchy {
            Hierarchy::V2 { root } => v2::apply(&root.join(&self.rel), r),
            Hierarchy::V1 { .. } => v1::apply(self, r),
        }
    }

    /// Move process `pid` (all its threads) in.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        for (_, dir) in self.dirs() {
            write(&dir, "cgroup.procs", pid)?;
        }
        Ok(())
    }

    /// Move the calling (single-threaded) process in. On v1 this writes "0" to `tasks`,
    /// which the kernel does without taking the global threadgroup lock — writing a pid to
    /// cgroup.procs waits for an RCU grace period (5-15 ms measured here).
    pub fn attach_self(&self) -> Result<()> {
        let file = if self.hierarchy.is_v2() {
            "cgroup.procs"
        } else {
            "tasks"
        };
        for (_, dir) in self.dirs() {
            write(&dir, file, 0)?;
        }
        Ok(())
    }

    /// The v2 directory, for clone3(CLONE_INTO_CGROUP).
    pub fn v2_dir(&self) -> Option<PathBuf> {
        match &self.hierarchy {
            Hierarchy::V2 { root } => Some(root.join(&self.rel)),
            Hierarchy::V1 { .. } => None,
        }
    }

    /// Every process in the cgroup and its sub-cgroups, sorted. v1 reads the pids (else
    /// memory, freezer, cpu, else the first) hierarchy. A missing cgroup has none.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let dir = match &self.hierarchy {
            Hierarchy::V2 { root } => root.join(&self.rel),
            Hierarchy::V1 { .. } => ["pids", "memory", "freezer", "cpu"]
                .iter()
                .find_map(|c| self.dir(c))
                .or_else(|| self.dirs().into_iter().next().map(|(_, d)| d))
                .ok_or_else(|| Error::Invalid("no cgroup hierarchy".into()))?,
        };
        let mut pids = Vec::new();
        fsutil::procs_recursive(&dir, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Usage counters in runc's `events --stats` shape; missing files read as zero.
    pub fn stats(&self) -> Result<Stats> {
        Ok(match &self.hierarchy {
            Hierarchy::V2 { root } => stats::v2(&root.join(&self.rel)),
            Hierarchy::V1 { .. } => stats::v1(|c| self.dir(c)),
        })
    }

    /// OOM kills so far: v2 memory.events oom_kill, v1 memory.oom_control oom_kill (0 when
    /// the kernel does not count them).
    pub fn oom_kill_count(&self) -> Result<u64> {
        let (dir, file) = match &self.hierarchy {
            Hierarchy::V2 { root } => (root.join(&self.rel), "memory.events"),
            Hierarchy::V1 { .. } => match self.dir("memory") {
                Some(d) => (d, "memory.oom_control"),
                None => return Ok(0),
            },
        };
        Ok(fsutil::kv(&fsutil::read_kv(&dir, file), "oom_kill"))
    }

    /// Names of the sub-cgroups directly below this one, in any of its directories, sorted.
    /// A missing cgroup has none.
    pub fn children(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .dirs()
            .iter()
            .filter_map(|(_, d)| std::fs::read_dir(d).ok())
            .flat_map(|rd| rd.flatten())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The cgroup `name` directly below this one.
    pub fn child(&self, name: &str) -> Cgroup {
        Cgroup {
            hierarchy: self.hierarchy.clone(),
            rel: self.rel.join(name),
        }
    }

    /// Remove every directory (sub-cgroups first), waiting briefly for exiting processes.
    pub fn destroy(&self) -> Result<()> {
        for (_, dir) in self.dirs() {
            rmdir_tree(&dir)?;
        }
        Ok(())
    }
}

impl v1::Dirs for Cgroup {
    fn dir(&self, controller: &str) -> Option<PathBuf> {
        Cgroup::dir(self, controller)
    }
}

#[cfg(test)]
mod tests;
