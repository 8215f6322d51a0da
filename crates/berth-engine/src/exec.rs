//! `docker exec`: an exec instance is created, then started as its own shim (`berth-shim
//! exec`), which the API attaches to like a container; its exit code is kept for inspect.

use crate::container::{new_id, Status};
use crate::engine::Engine;
use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// The `POST /containers/{id}/exec` body.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub privileged: bool,
    pub user: String,
    pub working_dir: String,
    /// Overrides the default detach keys (`ctrl-p,ctrl-q`) for this exec's stdin.
    pub detach_keys: String,
}

#[derive(Clone, Debug)]
pub struct ExecRecord {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: i32,
    pub dir: PathBuf,
}

impl Engine {
    pub fn exec_create(&self, name: &str, cfg: ExecConfig) -> Result<String> {
        let rec = self.find(name)?;
        if rec.state.status != Status::Running {
            return Err(Error::State(format!("Container {} is not running", rec.id)));
        }
        if cfg.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(Error::Invalid("No exec command specified".into()));
        }
        let id = new_id();
        let dir = self.cfg.exec_root.join("exec").join(&id[..12]);
        let ex = ExecRecord {
            id: id.clone(),
            container_id: rec.id.clone(),
            config: cfg,
            running: false,
            exit_code: None,
            pid: 0,
            dir,
        };
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), ex);
        self.emit(&rec, "exec_create");
        Ok(id)
    }

    pub fn exec_get(&self, id: &str) -> Result<ExecRecord> {
        let execs = self.execs.lock().unwrap_or_else(|p| p.into_inner());
        execs
            .get(id)
            .or_else(|| {
                execs
                    .values()
                    .find(|e| id.len() >= 4 && e.id.starts_with(id))
            })
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("No such exec instance: {id}")))
    }

    /// Start the exec's shim; its directory (to attach to) is returned. Output waits in
    /// the shim until the first attach, so the caller may attach after this returns.
    pub fn exec_start(self: &Arc<Self>, id: &str) -> Result<PathBuf> {
        let ex = self.exec_get(id)?;
        if ex.running || ex.exit_code.is_some() {
            return Err(Error::Conflict(format!(
                "exec {} has already been started",
                ex.id
            )));
        }
        let rec = self.find(&ex.container_id)?;
        if rec.state.status != Status::Running {
            return Err(Error::State(format!("Container {} is not running", rec.id)));
        }
        let c = berth_runtime::Container::load(&self.runtime_root(), &rec.id)?;
        let user = if ex.config.user.is_empty() {
            None
        } else {
            let rootfs = self.container_dir(&rec.id).join("rootfs");
            let (u, g, _) = crate::spec::resolve_user(&rootfs, &ex.config.user)?;
            Some(format!("{u}:{g}"))
        };
        let mut process = berth_runtime::exec::process_from_args(
            &c,
            ex.config.cmd.clone().unwrap_or_default(),
            ex.config.env.as_deref().unwrap_or_default(),
            Some(ex.config.working_dir.as_str()).filter(|w| !w.is_empty()),
            user.as_deref(),
            ex.config.tty,
        )?;
        if ex.config.privileged {
            // `exec --privileged`: every capability the daemon has, as dockerd gives.
            let caps = crate::spec::capabilities(&[], &[], true)?;
            let set = serde_json::json!({"bounding": caps, "effective": caps, "permitted": caps});
            process.set_capabilities(Some(serde_json::from_value(set)?));
        }
        std::fs::create_dir_all(&ex.dir).ctx(|| format!("creating {}", ex.dir.display()))?;
        let pfile = ex.dir.join("process.json");
        std::fs::write(&pfile, serde_json::to_vec(&process)?)
            .ctx(|| format!("writing {}", pfile.display()))?;
        let pid = berth_shim::spawn_exec(&berth_shim::ExecOpts {
            id: rec.id.clone(),
            runtime_root: self.runtime_root(),
            dir: ex.dir.clone(),
            process_file: pfile,
            tty: ex.config.tty,
            stdin: ex.config.attach_stdin,
            shim_binary: self.cfg.shim_binary.clone(),
        });
        let pid = match pid {
            Ok(p) => p,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&ex.dir);
                // As docker: the process never ran; 127 when there is no such program.
                let msg = format!("OCI runtime exec failed: exec failed: {e}: unknown");
                let code = if msg.contains("no such file") || msg.contains("not found") {
                    127
                } else {
                    126
                };
                self.set_exec(id, |x| x.exit_code = Some(code));
                return Err(Error::ExecFailed(msg));
            }
        };
        self.set_exec(id, |e| {
            e.running = true;
            e.pid = pid;
        });
        self.emit(&rec, "exec_start");
        let me = Arc::clone(self);
        let exec_id = ex.id.clone();
        let dir = ex.dir.clone();
        let _ = std::thread::Builder::new().spawn(move || {
            let info = berth_shim::Client::connect(&dir)
                .and_then(|c| c.wait())
                .ok()
                .or_else(|| berth_shim::read_exit(&dir).ok().flatten());
            let code = info.map(|i| i.exit_code).unwrap_or(126);
            let known = me.set_exec(&exec_id, |e| {
                e.running = false;
                e.exit_code = Some(code);
            });
            if !known {
                // Forgotten while it ran (see `forget_exec`): its directory is left to us,
                // now that the shim has written its last file there.
                let _ = std::fs::remove_dir_all(&dir);
            }
            let code = code.to_string();
            me.emit_with(
                &rec,
                "exec_die",
                &[("execID", &exec_id), ("exitCode", &code)],
            );
        });
        Ok(ex.dir)
    }

    /// Drop an exec's record, and its directory unless its shim still runs (the thread
    /// waiting on that shim removes it then): a healthcheck probe, done.
    pub(crate) fn forget_exec(&self, id: &str) {
        let gone = self
            .execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(ex) = gone.filter(|e| !e.running) {
            let _ = std::fs::remove_dir_all(&ex.dir);
        }
    }

    /// Drop the exec records of a container that stopped (their processes died with it),
    /// so that neither they nor their directories on /run pile up.
    pub(crate) fn forget_execs_of(&self, container_id: &str) {
        let gone: Vec<ExecRecord> = {
            let mut execs = self.execs.lock().unwrap_or_else(|p| p.into_inner());
            let ids: Vec<String> = execs
                .values()
                .filter(|e| e.container_id == container_id)
                .map(|e| e.id.clone())
                .collect();
            ids.iter().filter_map(|i| execs.remove(i)).collect()
        };
        for ex in gone.iter().filter(|e| !e.running) {
            let _ = std::fs::remove_dir_all(&ex.dir);
        }
    }

    /// SIGKILL an exec's process (a probe past its timeout).
    pub(crate) fn kill_exec(&self, id: &str) {
        if let Ok(ex) = self.exec_get(id) {
            if ex.pid > 0 {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(ex.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }

    /// Change an exec's record; false when there is none (any more).
    fn set_exec(&self, id: &str, f: impl FnOnce(&mut ExecRecord)) -> bool {
        let mut execs = self.execs.lock().unwrap_or_else(|p| p.into_inner());
        match execs.get_mut(id) {
            Some(e) => {
                f(e);
                true
            }
            None => false,
        }
    }

    /// Wait (bounded) until an exec has an exit code; used right after a hijacked stream ends.
    pub fn exec_wait(&self, id: &str, limit: std::time::Duration) -> Option<i32> {
        let end = std::time::Instant::now() + limit;
        loop {
            let e = self.exec_get(id).ok()?;
            if e.exit_code.is_some() || std::time::Instant::now() > end {
                return e.exit_code;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}
