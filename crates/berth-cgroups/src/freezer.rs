//! Freezing, thawing and signalling every process of a cgroup.

use crate::error::{Error, Result};
use crate::fsutil::{self, read, write};
use crate::{Cgroup, Hierarchy};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a freeze or thaw may take to settle.
const SETTLE: Duration = Duration::from_secs(5);

impl Cgroup {
    /// Stop every process: v1 freezer.state FROZEN (re-written until it leaves FREEZING),
    /// v2 cgroup.freeze 1 and wait for cgroup.events "frozen 1". On a timeout the cgroup is
    /// thawed again, so that it is not left half frozen.
    pub fn freeze(&self) -> Result<()> {
        let r = self.set_frozen(true);
        if r.is_err() {
            let _ = self.set_frozen(false);
        }
        r
    }

    /// Resume every process (v1 freezer.state THAWED, v2 cgroup.freeze 0), waiting until
    /// the kernel reports the new state.
    pub fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let deadline = Instant::now() + SETTLE;
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
                    wait(&mut pause, deadline, &dir.join("cgroup.events"), frozen)?;
                }
            }
            Hierarchy::V1 { .. } => {
                let dir = self
                    .dir("freezer")
                    .ok_or_else(|| Error::MissingController("freezer".into()))?;
                let want = if frozen { "FROZEN" } else { "THAWED" };
                loop {
                    // Writing FROZEN again makes the kernel retry tasks that were busy.
                    write(&dir, "freezer.state", want)?;
                    if read(&dir, "freezer.state")?.trim() == want {
                        return Ok(());
                    }
                    wait(&mut pause, deadline, &dir.join("freezer.state"), frozen)?;
                }
            }
        }
    }

    /// Whether the cgroup is frozen (v1: FROZEN or still FREEZING; v2: cgroup.events).
    /// A cgroup without a freezer directory is not frozen.
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

    /// Send `sig` to every process, sub-cgroups included. v2 with SIGKILL writes cgroup.kill
    /// when the kernel has it (5.14+); otherwise freeze, signal each pid, thaw, so that
    /// nothing forks away in between. A process that exits meanwhile (ESRCH) is fine.
    pub fn kill_all(&self, sig: i32) -> Result<()> {
        if let Some(dir) = self.v2_dir() {
            if sig == libc::SIGKILL && dir.join("cgroup.kill").exists() {
                return write(&dir, "cgroup.kill", 1);
            }
        }
        // No process, nothing that could fork either: no need to freeze (a stopped
        // container's delete lands here, and freezing polls the freezer's state).
        if self.pids()?.is_empty() {
            return Ok(());
        }
        let was_frozen = self.is_frozen().unwrap_or(false);
        // Without a freezer (or if it will not settle) signal anyway: better than nothing.
        let froze = !was_frozen && self.freeze().is_ok();
        let mut result = Ok(());
        for pid in self.pids()? {
            // SAFETY: kill(2) takes two integers and touches no memory of this process.
            if unsafe { libc::kill(pid, sig) } != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::ESRCH) && result.is_ok() {
                    result = Err(Error::Signal {
                        pid,
                        sig,
                        source: e,
                    });
                }
            }
        }
        if froze {
            self.thaw()?;
        }
        result
    }
}

/// Sleep a little (doubling up to 10 ms) or give up after the deadline.
fn wait(pause: &mut Duration, deadline: Instant, file: &Path, frozen: bool) -> Result<()> {
    if Instant::now() > deadline {
        let state = if frozen { "frozen" } else { "thawed" };
        return Err(Error::Timeout(format!(
            "waiting for {} to report {state}",
            file.display()
        )));
    }
    std::thread::sleep(*pause);
    *pause = (*pause * 2).min(Duration::from_millis(10));
    Ok(())
}
