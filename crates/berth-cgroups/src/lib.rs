//! cgroups v1 and v2, detected at run time: create a container's cgroup, write its limits,
//! move processes in, freeze/thaw, kill everything in it, read stats, remove it.

mod detect;
mod error;
mod fsutil;
mod stats;
mod v1;
mod v2;

pub use detect::Hierarchy;
pub use error::{Error, Result};
pub use stats::Stats;
pub use v1::device_rule;
pub use v2::{blkio_to_io_weight, shares_to_weight};

use fsutil::{read, write};
use oci_spec::runtime::LinuxResources;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

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

    /// Every directory of this cgroup: (controllers of the hierarchy, dir). v2: ("", dir).
    fn dirs(&self) -> Vec<(String, PathBuf)> {
        match &self.hierarchy {
            Hierarchy::V1 { mounts } => mounts
                .iter()
                .map(|(c, m)| (c.clone(), m.join(&self.rel)))
                .collect(),
            Hierarchy::V2 { root } => vec![(String::new(), root.join(&self.rel))],
        }
    }

    /// v1: the directory for one controller.
    fn dir(&self, controller: &str) -> Option<PathBuf> {
        self.hierarchy
            .v1_mount(controller)
            .map(|m| m.join(&self.rel))
    }

    /// For mounting inside the container: (name under /sys/fs/cgroup, host directory).
    pub fn mount_dirs(&self) -> Vec<(String, PathBuf)> {
        match &self.hierarchy {
            Hierarchy::V2 { root } => vec![(String::new(), root.join(&self.rel))],
            Hierarchy::V1 { mounts } => mounts
                .iter()
                .filter_map(|(_, m)| {
                    let name = m.file_name()?.to_string_lossy().into_owned();
                    Some((name, m.join(&self.rel)))
                })
                .collect(),
        }
    }

    pub fn exists(&self) -> bool {
        self.dirs().iter().any(|(_, d)| d.is_dir())
    }

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

    /// Processes in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let dir = match &self.hierarchy {
            Hierarchy::V2 { root } => root.join(&self.rel),
            Hierarchy::V1 { .. } => ["pids", "memory", "freezer", "cpu"]
                .iter()
                .find_map(|c| self.dir(c))
                .or_else(|| self.dirs().into_iter().next().map(|(_, d)| d))
                .ok_or_else(|| Error::Invalid("no cgroup hierarchy".into()))?,
        };
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        Ok(read(&dir, "cgroup.procs")?
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect())
    }

    pub fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    pub fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut pause = Duration::from_micros(50);
        match &self.hierarchy {
            Hierarchy::V2 { root } => {
                let dir = root.join(&self.rel);
                write(&dir, "cgroup.freeze", u8::from(frozen))?;
                loop {
                    let ev = fsutil::read_kv(&dir, "cgroup.events");
                    if fsutil::kv(&ev, "frozen") == u64::from(frozen) {
                        return Ok(());
                    }
                    wait(&mut pause, deadline, &dir)?;
                }
            }
            Hierarchy::V1 { .. } => {
                let dir = self
                    .dir("freezer")
                    .ok_or_else(|| Error::MissingController("freezer".into()))?;
                let want = if frozen { "FROZEN" } else { "THAWED" };
                loop {
                    write(&dir, "freezer.state", want)?;
                    if read(&dir, "freezer.state")?.trim() == want {
                        return Ok(());
                    }
                    wait(&mut pause, deadline, &dir)?;
                }
            }
        }
    }

    pub fn is_frozen(&self) -> Result<bool> {
        match &self.hierarchy {
            Hierarchy::V2 { root } => {
                let ev = fsutil::read_kv(&root.join(&self.rel), "cgroup.events");
                Ok(fsutil::kv(&ev, "frozen") == 1)
            }
            Hierarchy::V1 { .. } => match self.dir("freezer") {
                Some(d) if d.is_dir() => Ok(read(&d, "freezer.state")?.trim() != "THAWED"),
                _ => Ok(false),
            },
        }
    }

    /// Signal every process. v2 SIGKILL uses cgroup.kill; otherwise freeze, signal, thaw, so
    /// that nothing forks away in between.
    pub fn kill_all(&self, sig: i32) -> Result<()> {
        if let Some(dir) = self.v2_dir() {
            if sig == libc::SIGKILL && dir.join("cgroup.kill").exists() {
                return write(&dir, "cgroup.kill", 1);
            }
        }
        let was_frozen = self.is_frozen().unwrap_or(false);
        let froze = !was_frozen && self.freeze().is_ok();
        for pid in self.pids()? {
            // SAFETY: kill(2) with a pid and signal number touches no memory of ours.
            unsafe { libc::kill(pid, sig) };
        }
        if froze {
            self.thaw()?;
        }
        Ok(())
    }

    pub fn stats(&self) -> Result<Stats> {
        Ok(match &self.hierarchy {
            Hierarchy::V2 { root } => stats::v2(&root.join(&self.rel)),
            Hierarchy::V1 { .. } => stats::v1(|c| self.dir(c)),
        })
    }

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

fn mkdir_p(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Fs {
        op: "creating cgroup",
        path: dir.to_path_buf(),
        source,
    })
}

fn wait(pause: &mut Duration, deadline: Instant, what: &Path) -> Result<()> {
    if Instant::now() > deadline {
        return Err(Error::Timeout(format!("waiting on {}", what.display())));
    }
    std::thread::sleep(*pause);
    *pause = (*pause * 2).min(Duration::from_millis(10));
    Ok(())
}

fn rmdir_tree(dir: &Path) -> Result<()> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_tree(&e.path())?;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut pause = Duration::from_micros(50);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            Err(source) => {
                return Err(Error::Fs {
                    op: "removing cgroup",
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
