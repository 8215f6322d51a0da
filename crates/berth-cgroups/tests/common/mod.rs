//! Shared helpers for the real-kernel tests: skip checks, unique names, a cleanup guard.

#![allow(dead_code)]

use berth_cgroups::Cgroup;
use oci_spec::runtime::LinuxResources;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// OCI resources from their JSON form.
pub fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// Whether we run as root; prints why a test is skipped when not.
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("SKIP {test}: needs root");
    }
    root
}

/// A cgroup path nobody else uses: /berth-test-<pid>-<n>.
pub fn unique_path() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "/berth-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Start `sleep 30`.
pub fn sleeper() -> Child {
    Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawning sleep")
}

/// The state letter of /proc/PID/stat (R, S, D, T, Z...).
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// Kills and reaps the children, thaws and removes the cgroup, whether the test passed or not.
pub struct Guard {
    pub cg: Cgroup,
    pub children: Vec<Child>,
}

impl Guard {
    pub fn new(cg: &Cgroup) -> Guard {
        Guard {
            cg: cg.clone(),
            children: Vec::new(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.cg.thaw();
        if let Ok(pids) = self.cg.pids() {
            for pid in pids {
                // SAFETY: kill(2) with plain integers; these pids are in our test cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Err(e) = self.cg.destroy() {
            eprintln!("cleanup: {e}");
        }
    }
}
