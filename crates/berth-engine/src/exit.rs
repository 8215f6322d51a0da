//! What happens when a container's process ends: the shim's answer is collected, the
//! runtime state, network attachment and rootfs mount go, the exit is recorded, and the
//! restart policy or `--rm` applies. Also `recover`: the same bookkeeping for whatever
//! happened while the daemon was not running.

use crate::container::{ContainerRecord, Status};
use crate::engine::Engine;
use berth_shim::ExitInfo;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Engine {
    /// Record an exit and act on it.
    pub(crate) fn handle_exit(self: &Arc<Self>, id: &str, info: ExitInfo) {
        // An --rm container goes straight to Removing, in the same commit as its exit, which
        // is made while the container is taken down.
        let copying = self.check_not_copying(id).is_err();
        let updated = self.update_during(
            id,
            |r| {
                r.state.exit_code = info.exit_code;
                r.state.oom_killed = info.oom_killed;
                r.state.finished_at = info.finished_at.clone();
                r.state.pid = 0;
                r.nets.clear();
                r.ports.clear();
                let remove = r.host_config.auto_remove && !copying && !self.should_restart(r);
                r.state.status = if remove {
                    Status::Removing
                } else {
                    Status::Exited
                };
            },
            || self.undo_start(id),
        );
        let Ok(rec) = updated else {
            self.undo_start(id);
            return;
        };
        let remove = rec.state.status == Status::Removing;
        if info.oom_killed {
            self.emit(&rec, "oom");
        }
        let code = info.exit_code.to_string();
        self.emit_with(&rec, "die", &[("exitCode", &code)]);
        if remove {
            let _ = self.drop_removed(&rec, true);
        } else if self.should_restart(&rec) {
            let _ = self.update(id, |r| {
                r.state.status = Status::Restarting;
                r.restart_count += 1;
            });
            let me = Arc::clone(self);
            let id = id.to_string();
            let delay = Duration::from_millis(100 << rec.restart_count.min(8));
            let _ = std::thread::Builder::new().spawn(move || {
                std::thread::sleep(delay);
                let _ = me.restart_start(&id);
            });
        } else if rec.host_config.auto_remove {
            let _ = self.remove(id, true, true);
        }
    }

    fn should_restart(&self, rec: &ContainerRecord) -> bool {
        if rec.state.manually_stopped {
            return false;
        }
        let p = &rec.host_config.restart_policy;
        match p.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                rec.state.exit_code != 0
                    && (p.maximum_retry_count <= 0
                        || i64::from(rec.restart_count) < p.maximum_retry_count)
            }
            _ => false,
        }
    }

    /// Bring records in line with reality after a start: finish or undo half-done
    /// creates, starts and removes; re-attach to live shims; collect exits that happened
    /// while no daemon was listening.
    pub(crate) fn recover(self: &Arc<Self>) -> crate::Result<()> {
        for rec in self.list() {
            let id = rec.id.clone();
            match rec.state.status {
                Status::Creating => {
                    let _ = std::fs::remove_dir_all(self.container_dir(&id));
                    self.forget(&id)?;
                }
                Status::Removing => {
                    let _ = self.finish_remove(&rec, false);
                }
                Status::Starting | Status::Running | Status::Paused | Status::Restarting => {
                    let dir = self.container_dir(&id);
                    let runtime = berth_runtime::Container::load(&self.runtime_root(), &id).ok();
                    let running = runtime.as_ref().is_some_and(|c| {
                        matches!(
                            c.status(),
                            berth_runtime::Status::Running | berth_runtime::Status::Paused
                        )
                    });
                    let shim = berth_shim::Client::connect(&dir).is_ok();
                    if running && shim && rec.state.status != Status::Starting {
                        for att in &rec.nets {
                            self.net.hold(att);
                            self.dns.add(&id, &rec.name, att);
                        }
                        self.monitor(&id);
                        self.watch_health(&id, false);
                    } else if rec.state.status == Status::Starting {
                        // The start never finished: take everything down again.
                        self.settle_launching_shim(&id, &dir);
                        self.undo_start(&id);
                        let never = rec.state.started_at.is_empty();
                        self.update(&id, |r| {
                            r.state.status = if never {
                                Status::Created
                            } else {
                                Status::Exited
                            };
                            r.state.pid = 0;
                            r.nets.clear();
                            r.ports.clear();
                            r.state.error =
                                "the daemon stopped while starting the container".into();
                        })?;
                    } else {
                        let info = berth_shim::read_exit(&dir)
                            .ok()
                            .flatten()
                            .unwrap_or_else(lost_shim);
                        self.handle_exit(&id, info);
                    }
                }
                Status::Created | Status::Exited | Status::Dead => {
                    self.undo_start(&id);
                }
            }
        }
        self.sweep_orphan_dirs();
        self.sweep_cgroups();
        let (networks, live) = self.firewall_state();
        berth_net::restore_elements(&networks, &live, &self.cfg.nft_table)?;
        Ok(())
    }
}

impl Engine {
    /// A container directory without a record is a create the previous daemon did not
    /// finish (it makes the directory before it commits the record): it goes to the trash.
    fn sweep_orphan_dirs(&self) {
        let root = self.cfg.data_root.join("containers");
        let Ok(rd) = std::fs::read_dir(&root) else {
            return;
        };
        let known: std::collections::HashSet<String> =
            self.lock().keys().map(|id| id[..12].to_string()).collect();
        for e in rd.flatten() {
            if !known.contains(e.file_name().to_string_lossy().as_ref()) {
                let dir = e.path();
                let _ = berth_image::unmount(&dir.join("rootfs"));
                crate::hostopts::unmount_shm(&dir);
                let _ = self.trash.discard(&dir);
            }
        }
    }

    /// A shim the previous daemon spawned for a start it never finished may still be making
    /// the container: the runtime writes its state only once the init is ready, and until
    /// then `undo_start` finds nothing to delete, so the shim, its created init and cgroup
    /// would outlive the recovery. Wait (bounded) until the runtime state is there or that
    /// shim is gone.
    fn settle_launching_shim(&self, id: &str, dir: &Path) {
        let Some(pid) = std::fs::read_to_string(dir.join(berth_shim::protocol::PID_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        else {
            return;
        };
        // That pid is this container's shim (not a reused pid) while its --dir is ours.
        let dir_arg = dir.to_string_lossy().into_owned();
        let alive = || {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&dir_arg))
        };
        let end = Instant::now() + SHIM_LAUNCH_MAX;
        while alive()
            && berth_runtime::Container::load(&self.runtime_root(), id).is_err()
            && Instant::now() < end
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The longest recovery waits for a shim still making its container.
const SHIM_LAUNCH_MAX: Duration = Duration::from_secs(10);

/// The exit of a container whose shim vanished without a word (killed with the host).
pub(crate) fn lost_shim() -> ExitInfo {
    ExitInfo {
        exit_code: 137,
        oom_killed: false,
        finished_at: crate::now(),
    }
}
