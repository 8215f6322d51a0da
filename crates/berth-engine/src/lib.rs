//! berth-engine: what the daemon does, without HTTP. Containers (records in redb, one shim
//! each, started through the runtime library), images (berth-image), volumes and networks
//! (berth-net); restart policies; recovery after a crash. The API crate calls into it.

mod archive;
mod cgroups;
mod changes;
mod commit;
mod container;
mod db;
mod dns;
mod engine;
mod error;
mod etcfiles;
mod events;
mod exec;
mod exit;
mod health;
mod hostopts;
mod images;
mod lifecycle;
mod logs;
pub mod model;
mod monitor;
mod netops;
mod network;
mod resources;
mod seccomp;
mod spec;
mod trash;
mod unpack;
mod volumes;

pub use archive::{ArchiveSource, ExtractOpts, PathStat};
pub use changes::Change;
pub use commit::CommitRequest;
pub use container::{ContainerRecord, MountPoint, NetAttach, Published, State, Status};
pub use engine::{Engine, EngineConfig, DEFAULT_CGROUP_PARENT};
pub use error::{Error, Result};
pub use events::{Event, Events, Filter as EventFilter};
pub use exec::{ExecConfig, ExecRecord};
pub use images::{Image, Images};
pub use logs::{LogLine, LogOpts};
pub use network::{NetCreate, NetworkRecord, OPT_BRIDGE_NAME, OPT_MTU};
pub use resources::{warnings as create_warnings, UpdateBody};
pub use unpack::PullUnpack;
pub use volumes::Volume;

use std::os::unix::net::UnixStream;

/// Now, RFC 3339 with nanoseconds, UTC.
pub fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// `10m`, `1g`, `512k`, `100` (bytes) as docker's `max-size` reads them.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: f64 = num.parse().ok()?;
    Some((n * mult as f64) as u64)
}

/// Remove a directory tree; one that is already gone is fine.
pub(crate) fn remove_tree(dir: &std::path::Path) -> Result<()> {
    use error::Context;
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r.ctx(|| format!("removing {}", dir.display())),
    }
}

/// Bytes used under a directory (not following symlinks).
pub fn du(path: &std::path::Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| du(&e.path())).sum())
        .unwrap_or(0)
}

impl Engine {
    /// Attach to a running container's stdio through its shim: the stream carries docker's
    /// framing (no tty) or raw bytes (tty).
    pub fn attach(
        &self,
        name: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<UnixStream> {
        let rec = self.find(name)?;
        let keep = !rec.config.stdin_once;
        let stream = self.attach_dir(&self.container_dir(&rec.id), stdin, stdout, stderr, keep)?;
        self.emit(&rec, "attach");
        Ok(stream)
    }

    /// Attach to a container that may not be running yet: a created or stopped container's
    /// attach is served when it next starts, before its process runs.
    pub fn attach_when_started(
        &self,
        name: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<std::sync::mpsc::Receiver<Result<UnixStream>>> {
        let rec = self.find(name)?;
        self.emit(&rec, "attach");
        let (tx, rx) = std::sync::mpsc::channel();
        if matches!(rec.state.status, Status::Running | Status::Paused) {
            let keep = !rec.config.stdin_once;
            let dir = self.container_dir(&rec.id);
            let _ = tx.send(self.attach_dir(&dir, stdin, stdout, stderr, keep));
            return Ok(rx);
        }
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.entry(rec.id.clone())
            .or_default()
            .push(engine::PendingAttach {
                stdin,
                stdout,
                stderr,
                keep_stdin: !rec.config.stdin_once,
                tx,
            });
        Ok(rx)
    }

    /// Serve the attaches waiting for this container (its shim now exists).
    pub(crate) fn serve_pending(&self, id: &str) {
        let waiting = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
            .unwrap_or_default();
        let dir = self.container_dir(id);
        for w in waiting {
            let a = self.attach_dir(&dir, w.stdin, w.stdout, w.stderr, w.keep_stdin);
            let _ = w.tx.send(a);
        }
    }

    /// Give up on the attaches waiting for a container (its start failed, it is gone).
    pub(crate) fn drop_pending(&self, id: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Attach to a shim by its directory (containers and execs alike). `keep_stdin`: the
    /// stream's end (a detach, a client's EOF) leaves the process's stdin open, as docker
    /// does for a container not created with `StdinOnce`.
    pub fn attach_dir(
        &self,
        dir: &std::path::Path,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        keep_stdin: bool,
    ) -> Result<UnixStream> {
        let c = berth_shim::Client::connect(dir)?;
        Ok(c.attach_keeping_stdin(stdin, stdout, stderr, keep_stdin)?)
    }

    /// Resize the container's terminal.
    pub fn resize(&self, name: &str, rows: u16, cols: u16) -> Result<()> {
        let rec = self.find(name)?;
        let c = berth_shim::Client::connect(&self.container_dir(&rec.id))?;
        c.resize(rows, cols)?;
        let (h, w) = (rows.to_string(), cols.to_string());
        self.emit_with(&rec, "resize", &[("height", &h), ("width", &w)]);
        Ok(())
    }

    /// Resize an exec's terminal.
    pub fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> Result<()> {
        let ex = self.exec_get(id)?;
        let c = berth_shim::Client::connect(&ex.dir)?;
        Ok(c.resize(rows, cols)?)
    }

    /// Processes in the container (`docker top`): pids from its cgroup.
    pub fn top(&self, name: &str) -> Result<Vec<i32>> {
        let rec = self.find(name)?;
        if !rec.state.status.is_live() {
            return Err(Error::State(format!("Container {} is not running", rec.id)));
        }
        Ok(berth_runtime::Container::load(&self.runtime_root(), &rec.id)?.pids()?)
    }

    /// cgroup statistics (`docker stats`).
    pub fn stats(&self, name: &str) -> Result<berth_cgroups::Stats> {
        let rec = self.find(name)?;
        if !rec.state.status.is_live() {
            return Err(Error::State(format!("Container {} is not running", rec.id)));
        }
        Ok(berth_runtime::Container::load(&self.runtime_root(), &rec.id)?.stats()?)
    }
}
