//! Container lifecycle: create, start, stop, kill, remove, wait, pause, rename. Each step
//! that has side effects is preceded by a durable state (`Creating`, `Starting`,
//! `Removing`) so that `recover` can finish or undo it after a crash.

use crate::container::{new_id, random_name, valid_name, ContainerRecord, State, Status};
use crate::engine::{find_in, Engine};
use crate::error::{Context, Error, Result};
use crate::model::CreateBody;
use berth_runtime::Container;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Engine {
    /// `POST /containers/create`: the record and its directories; nothing runs yet.
    pub fn create(&self, body: CreateBody, name: Option<&str>) -> Result<ContainerRecord> {
        let CreateBody {
            config: mut cfg,
            host_config: hc,
            networking_config: networking,
        } = body;
        if cfg.image.is_empty() {
            return Err(Error::Invalid("config.Image is required".into()));
        }
        let img = self.images.resolve(&cfg.image)?;
        let base = img.container_config();
        // The image's defaults under the user's choices, as docker merges them.
        if cfg.entrypoint.is_none() {
            cfg.entrypoint = base.entrypoint.clone();
            if cfg.cmd.is_none() {
                cfg.cmd = base.cmd.clone();
            }
        }
        let mut env = base.env.clone().unwrap_or_default();
        for e in cfg.env.take().unwrap_or_default() {
            let key = e.split('=').next().unwrap_or("").to_string();
            env.retain(|x| x.split('=').next() != Some(key.as_str()));
            env.push(e);
        }
        cfg.env = Some(env);
        if cfg.working_dir.is_empty() {
            cfg.working_dir = base.working_dir.clone();
        }
        if cfg.user.is_empty() {
            cfg.user = base.user.clone();
        }
        for (mine, theirs) in [
            (&mut cfg.exposed_ports, &base.exposed_ports),
            (&mut cfg.volumes, &base.volumes),
        ] {
            if let Some(t) = theirs {
                let m = mine.get_or_insert_with(Default::default);
                for (k, v) in t {
                    m.entry(k.clone()).or_insert(v.clone());
                }
            }
        }
        for (k, _) in hc.port_bindings.iter().flatten() {
            cfg.exposed_ports
                .get_or_insert_with(Default::default)
                .entry(k.clone())
                .or_insert(serde_json::json!({}));
        }
        if let Some(l) = &base.labels {
            let m = cfg.labels.get_or_insert_with(Default::default);
            for (k, v) in l {
                m.entry(k.clone()).or_insert(v.clone());
            }
        }
        if cfg.stop_signal.is_none() {
            cfg.stop_signal = base.stop_signal.clone();
        }
        let mut argv: Vec<String> = cfg.entrypoint.clone().unwrap_or_default();
        argv.extend(cfg.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(Error::Invalid("no command specified".into()));
        }
        self.check_network_mode(&hc.network_mode)?;
        // Capabilities and the seccomp profile are checked now, so a bad one fails create.
        let caps = crate::spec::capabilities(
            hc.cap_add.as_deref().unwrap_or_default(),
            hc.cap_drop.as_deref().unwrap_or_default(),
            hc.privileged,
        )?;
        crate::seccomp::validate(hc.security_opt.as_deref().unwrap_or_default(), &caps)?;
        check_restart_policy(&hc)?;
        crate::resources::check(&hc)?;
        // A `container:<name>` of --pid or --ipc is looked up at start, as dockerd does (a
        // 404 here would send the docker CLI pulling an image).
        crate::hostopts::check(&hc, &cfg.hostname, &hc.network_mode)?;
        cfg.healthcheck = crate::health::merge(cfg.healthcheck.take(), base.healthcheck.clone());
        crate::health::validate(cfg.healthcheck.as_ref())?;
        let policy = hc.restart_policy.name.as_str();
        if hc.auto_remove && !matches!(policy, "" | "no") {
            return Err(Error::Invalid(
                "can't create 'AutoRemove' container with restart policy".into(),
            ));
        }
        if !hc.cgroup_parent.is_empty() {
            crate::cgroups::check_parent(&hc.cgroup_parent)?;
        }
        let (mounts, tmpfs) = self.resolve_mounts(&cfg, &hc)?;

        let id = loop {
            let id = new_id();
            if !self.lock().keys().any(|k| k[..12] == id[..12]) {
                break id;
            }
        };
        {
            let mut map = self.lock();
            let name = match name.filter(|n| !n.is_empty()) {
                Some(n) => {
                    let n = n.strip_prefix('/').unwrap_or(n);
                    if !valid_name(n) {
                        return Err(Error::Invalid(format!(
                            "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                        )));
                    }
                    if let Some(other) = map.values().find(|r| r.name == n) {
                        return Err(Error::Conflict(format!(
                            "Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                            other.id
                        )));
                    }
                    n.to_string()
                }
                None => (0..)
                    .map(|i| random_name(&id, i))
                    .find(|n| !map.values().any(|r| &r.name == n))
                    .unwrap_or_else(|| id[..12].to_string()),
            };
            let rec = ContainerRecord {
                id: id.clone(),
                name,
                created: crate::now(),
                image: cfg.image.clone(),
                image_id: img.id.to_string(),
                path: argv[0].clone(),
                args: argv[1..].to_vec(),
                config: cfg,
                host_config: hc,
                networking,
                state: State {
                    status: Status::Creating,
                    ..State::default()
                },
                restart_count: 0,
                mounts,
                tmpfs,
                image_manifest: img.manifest.to_string(),
                nets: Vec::new(),
                ports: Vec::new(),
            };
            // Claim the name before anything slow happens.
            map.insert(id.clone(), rec);
        }
        // The directories first, then the record in one commit: a daemon killed in between
        // leaves a directory without a record, which `recover` sweeps away.
        let made = (|| -> Result<ContainerRecord> {
            let dir = self.container_dir(&id);
            for d in ["upper", "work", "rootfs"] {
                let p = dir.join(d);
                std::fs::create_dir_all(&p).ctx(|| format!("creating {}", p.display()))?;
            }
            self.update(&id, |r| r.state.status = Status::Created)
        })();
        let rec = match made {
            Ok(rec) => rec,
            Err(e) => {
                let _ = std::fs::remove_dir_all(self.container_dir(&id));
                let _ = self.forget(&id);
                return Err(e);
            }
        };
        self.emit(&rec, "create");
        Ok(rec)
    }

    fn check_network_mode(&self, mode: &str) -> Result<()> {
        match mode {
            "" | "default" | "bridge" | "host" | "none" => Ok(()),
            m if m.starts_with("container:") => {
                self.find(&m["container:".len()..])?;
                Ok(())
            }
            m => self.net.get(m).map(|_| ()),
        }
    }

    /// `POST /containers/{id}/start`. Err(State) when it is already running.
    pub fn start(self: &Arc<Self>, name: &str) -> Result<()> {
        self.start_inner(name, false)
    }

    /// A restart policy's start: only if the container still waits for it (a stop in the
    /// meantime cancelled it), decided under the same lock as the transition.
    pub(crate) fn restart_start(self: &Arc<Self>, id: &str) -> Result<()> {
        self.start_inner(id, true)
    }

    fn start_inner(self: &Arc<Self>, name: &str, restarting: bool) -> Result<()> {
        let rec = {
            let mut map = self.lock();
            let rec = find_in(&map, name)?.clone();
            if restarting && (rec.state.status != Status::Restarting || rec.state.manually_stopped)
            {
                return Ok(());
            }
            match rec.state.status {
                s if s.is_live() && s != Status::Restarting => {
                    return Err(Error::State(format!(
                        "container {} is already running",
                        rec.id
                    )))
                }
                Status::Creating | Status::Removing => {
                    return Err(Error::State(format!(
                        "container {} is being created or removed",
                        rec.id
                    )))
                }
                _ => {}
            }
            self.check_not_copying(&rec.id)?;
            let r = map
                .get_mut(&rec.id)
                .ok_or_else(|| Error::no_container(name))?;
            r.state.status = Status::Starting;
            r.state.manually_stopped = false;
            r.clone()
        };
        // The Starting record's commit (an fsync) runs while the layer is mounted: a daemon
        // killed before it is durable finds the container Created or Exited, and `recover`
        // unmounts the layer of those too.
        let (committed, mounted) = crate::engine::beside(
            || self.db.put(crate::db::Table::Containers, &rec.id, &rec),
            || self.mount_rootfs(&rec),
        );
        match committed.and(mounted).and_then(|()| self.start_steps(&rec)) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.undo_start(&rec.id);
                self.drop_pending(&rec.id);
                let msg = e.to_string();
                let never = rec.state.started_at.is_empty();
                let _ = self.update(&rec.id, |r| {
                    r.state.status = if never {
                        Status::Created
                    } else {
                        Status::Exited
                    };
                    r.state.error = msg;
                    r.state.exit_code = if never { 0 } else { 128 };
                    r.state.pid = 0;
                    r.nets.clear();
                    r.ports.clear();
                });
                // docker removes an --rm container whose start failed.
                if rec.host_config.auto_remove {
                    let _ = self.remove(&rec.id, true, true);
                }
                Err(e)
            }
        }
    }

    /// The container's layer mounted on its rootfs, with its working directory and volume
    /// copy-ups made.
    fn mount_rootfs(&self, rec: &ContainerRecord) -> Result<()> {
        let dir = self.container_dir(&rec.id);
        let rootfs = dir.join("rootfs");
        let lowers = self.rootfs_lowers(rec)?;
        let _ = berth_image::unmount(&rootfs);
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        if rec.host_config.auto_remove {
            // The layer goes with the container: no need to sync it to disk at unmount.
            berth_image::mount_overlay_volatile(&lowers, &upper, &work, &rootfs)?;
        } else {
            berth_image::mount_overlay(&lowers, &upper, &work, &rootfs)?;
        }
        // docker makes a missing working directory.
        if !rec.config.working_dir.is_empty() {
            let cwd = berth_runtime::mounts::resolve_in_root(
                &rootfs,
                std::path::Path::new(&rec.config.working_dir),
            )?;
            std::fs::create_dir_all(&cwd)
                .ctx(|| format!("creating working directory {}", rec.config.working_dir))?;
        }
        for m in &rec.mounts {
            crate::volumes::copy_up(&rootfs, m)?;
        }
        Ok(())
    }

    /// `--pid`, `--ipc` and `--uts` resolved: a `container:<name>` must be running.
    fn shared_namespaces(&self, rec: &ContainerRecord) -> Result<crate::hostopts::Shared> {
        use crate::hostopts::{mount_shm, shm_dir, target, Join, Shm};
        let hc = &rec.host_config;
        let join = |mode: &str, what: &str| -> Result<Join> {
            Ok(match (mode, target(mode)) {
                ("host", _) => Join::Host,
                (_, Some(other)) => {
                    let o = self.find(other)?;
                    if o.state.status != Status::Running {
                        return Err(Error::State(format!(
                            "cannot join {what} of a non running container: {}",
                            o.id
                        )));
                    }
                    // As dockerd: only a donor made shareable lends its IPC namespace.
                    let ipc = &o.host_config.ipc_mode;
                    if what == "IPC" && ipc != "shareable" && ipc != "host" {
                        return Err(Error::Invalid(format!(
                            "cannot join IPC of container {}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
                            o.id
                        )));
                    }
                    Join::Container(o.state.pid)
                }
                _ => Join::Own,
            })
        };
        let ipc = join(&hc.ipc_mode, "IPC")?;
        let shm = match (&ipc, hc.ipc_mode.as_str()) {
            (Join::Host, _) => Shm::Bind("/dev/shm".into()),
            (Join::Container(_), mode) => {
                let donor = self.find(target(mode).unwrap_or_default())?;
                Shm::Bind(
                    shm_dir(&self.container_dir(&donor.id))
                        .to_string_lossy()
                        .into(),
                )
            }
            (Join::Own, "none") => Shm::Absent,
            (Join::Own, "shareable") => {
                let size = if hc.shm_size > 0 {
                    hc.shm_size
                } else {
                    64 << 20
                };
                Shm::Bind(mount_shm(&self.container_dir(&rec.id), size)?)
            }
            (Join::Own, _) => Shm::Private,
        };
        Ok(crate::hostopts::Shared {
            pid: join(&hc.pid_mode, "PID")?,
            ipc,
            shm,
            uts_host: hc.uts_mode == "host",
        })
    }

    /// After `mount_rootfs`: networks, /etc files, the spec, the shim (which makes the
    /// container), network setup, then the runtime's start.
    fn start_steps(self: &Arc<Self>, rec: &ContainerRecord) -> Result<()> {
        let id = rec.id.clone();
        let dir = self.container_dir(&id);
        let rootfs = dir.join("rootfs");
        let mode = rec.network_mode().to_string();
        let bridged = !matches!(mode.as_str(), "host" | "none") && !mode.starts_with("container:");
        let mut rec = rec.clone();
        if bridged {
            let taken: Vec<_> = self
                .lock()
                .values()
                .filter(|c| c.id != id)
                .flat_map(|c| c.ports.clone())
                .collect();
            let ports = crate::etcfiles::ports(&rec, &taken)?;
            let atts = self.attach_all(&rec)?;
            rec = self.update(&id, |r| {
                r.nets = atts;
                r.ports = ports;
            })?;
        }
        let mut binds = if mode.starts_with("container:") {
            Vec::new()
        } else {
            crate::etcfiles::write(&dir, &rec, rec.nets.first(), self.resolver_for(&rec))?
        };
        let netns_path = match mode.strip_prefix("container:") {
            Some(other) => {
                let o = self.find(other)?;
                if o.state.status != Status::Running {
                    return Err(Error::State(format!(
                        "cannot join network of a non running container: {}",
                        o.id
                    )));
                }
                for f in ["hostname", "hosts", "resolv.conf"] {
                    let p = self.container_dir(&o.id).join(f);
                    binds.push((p.to_string_lossy().into_owned(), format!("/etc/{f}")));
                }
                Some(format!("/proc/{}/ns/net", o.state.pid))
            }
            None => None,
        };
        let mut spec_binds: Vec<(String, String, bool)> =
            binds.into_iter().map(|(s, d)| (s, d, false)).collect();
        for m in &rec.mounts {
            spec_binds.push((m.source.clone(), m.destination.clone(), !m.rw));
        }
        let (uid, gid, extra) = crate::spec::resolve_user(&rootfs, &rec.config.user)?;
        let shared = self.shared_namespaces(&rec)?;
        let mut spec = crate::spec::build(
            &rec,
            &crate::spec::SpecInputs {
                rootfs: &rootfs,
                binds: spec_binds,
                tmpfs: rec.tmpfs.clone(),
                netns_path,
                new_netns: mode != "host",
                uid,
                gid,
                additional_gids: extra,
                cgroups_path: self.cgroups_path(&rec),
                init_binary: (rec.host_config.init == Some(true))
                    .then(|| self.cfg.shim_binary.clone()),
            },
        )?;
        crate::hostopts::apply(&mut spec, &rec.host_config, &shared, &rootfs)?;
        let cfg_path = dir.join("config.json");
        std::fs::write(&cfg_path, serde_json::to_vec(&spec)?)
            .ctx(|| format!("writing {}", cfg_path.display()))?;
        let _ = std::fs::remove_file(dir.join("exit.json"));
        let log = rec
            .host_config
            .log_config
            .config
            .clone()
            .unwrap_or_default();
        let pid = berth_shim::spawn_start(&berth_shim::StartOpts {
            id: id.clone(),
            bundle: dir.clone(),
            runtime_root: self.runtime_root(),
            dir: dir.clone(),
            tty: rec.config.tty,
            stdin: rec.config.open_stdin,
            log_max_size: log.get("max-size").and_then(|s| crate::parse_size(s)),
            log_max_file: log.get("max-file").and_then(|s| s.parse().ok()),
            shim_binary: self.cfg.shim_binary.clone(),
        })?;
        // Attaches made before the start are served while the network is plumbed: both
        // must be done before the process runs, neither waits for the other.
        let plumb = || -> Result<()> {
            for (att, ports) in rec.attachments() {
                let req = self.net.request_for(&id, att, ports)?;
                self.net.setup(&req, pid)?;
                self.dns.add(&id, &rec.name, att);
            }
            Ok(())
        };
        if rec.attachments().next().is_some() {
            crate::engine::beside(plumb, || self.serve_pending(&id)).0?;
        } else {
            self.serve_pending(&id);
        }
        Container::load(&self.runtime_root(), &id)?.start()?;
        let rec = self.update(&id, |r| {
            r.state.status = Status::Running;
            r.state.pid = pid;
            r.state.started_at = crate::now();
            r.state.finished_at = String::new();
            r.state.exit_code = 0;
            r.state.error = String::new();
            r.state.oom_killed = false;
            r.state.health = None;
        })?;
        self.emit(&rec, "start");
        self.monitor(&id);
        self.watch_health(&id, true);
        Ok(())
    }

    /// The image's layer directories under a container's rootfs, topmost first.
    pub(crate) fn rootfs_lowers(&self, rec: &ContainerRecord) -> Result<Vec<std::path::PathBuf>> {
        let img = match berth_image::Digest::parse(&rec.image_manifest) {
            Ok(m) => self.images.by_manifest(&m)?,
            Err(_) => self.images.resolve(&rec.image_id)?,
        };
        self.images.lowers(&img)
    }

    /// Undo whatever a start or a run made: the container process, its runtime state and
    /// cgroup, its network attachment, the rootfs mount.
    pub(crate) fn undo_start(&self, id: &str) {
        self.dns.remove_container(id);
        if let Ok(c) = Container::load(&self.runtime_root(), id) {
            let _ = c.delete(true);
        }
        if let Ok(rec) = self.find(id) {
            for (att, ports) in rec.attachments() {
                self.net.detach(id, att, ports, false);
            }
        }
        let _ = berth_image::unmount(&self.container_dir(id).join("rootfs"));
        crate::hostopts::unmount_shm(&self.container_dir(id));
        self.forget_execs_of(id);
        self.drop_copy_mount(id);
    }

    /// Send a signal to the container's init (`docker kill`).
    pub fn kill(&self, name: &str, signal: &str) -> Result<()> {
        let rec = self.find(name)?;
        if !rec.state.status.is_live() {
            return Err(Error::State(format!("Container {} is not running", rec.id)));
        }
        if rec.state.status == Status::Restarting {
            return Err(Error::Conflict(format!(
                "Container {} is restarting, wait until the container is running",
                rec.id
            )));
        }
        let sig = berth_runtime::parse_signal(if signal.is_empty() { "KILL" } else { signal })
            .map_err(|e| Error::Invalid(e.to_string()))?;
        self.update(&rec.id, |r| r.state.manually_stopped = true)?;
        if rec.state.status == Status::Paused {
            let _ = Container::load(&self.runtime_root(), &rec.id)?.resume();
        }
        Container::load(&self.runtime_root(), &rec.id)?.kill(sig, false)?;
        self.emit(&rec, "kill");
        Ok(())
    }

    /// `docker stop`: the stop signal, then SIGKILL after `timeout` seconds.
    pub fn stop(&self, name: &str, timeout: Option<i64>) -> Result<bool> {
        let rec = self.find(name)?;
        if !rec.state.status.is_live() {
            return Ok(false);
        }
        // A stop cancels a pending restart (as docker's), and no restart follows it.
        let rec = self.update(&rec.id, |r| {
            r.state.manually_stopped = true;
            if r.state.status == Status::Restarting {
                r.state.status = Status::Exited;
            }
        })?;
        if !rec.state.status.is_live() {
            self.emit(&rec, "stop");
            return Ok(true);
        }
        // A restart caught mid-start has no runtime container yet: wait for it to run.
        let until = Instant::now() + Duration::from_secs(5);
        while self
            .find(&rec.id)
            .is_ok_and(|r| r.state.status == Status::Starting)
            && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let events = self.events.subscribe();
        let timeout = timeout.or(rec.config.stop_timeout).unwrap_or(10).max(0) as u64;
        let sig = rec
            .config
            .stop_signal
            .clone()
            .unwrap_or_else(|| "TERM".into());
        self.kill(&rec.id, &sig)?;
        if !self.wait_gone(&rec.id, &events, Duration::from_secs(timeout)) {
            let _ = self.kill(&rec.id, "KILL");
            self.wait_gone(&rec.id, &events, Duration::from_secs(30));
        }
        self.emit(&rec, "stop");
        Ok(true)
    }

    /// Wait until the container is no longer live (or the time is up).
    fn wait_gone(
        &self,
        id: &str,
        events: &std::sync::mpsc::Receiver<crate::events::Event>,
        limit: Duration,
    ) -> bool {
        let end = Instant::now() + limit;
        loop {
            match self.find(id) {
                Ok(r) if r.state.status.is_live() && r.state.status != Status::Restarting => {}
                _ => return true,
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = events.recv_timeout(left.min(Duration::from_millis(200)));
        }
    }

    /// `docker wait`: block until the condition holds; the exit code.
    pub fn wait(&self, name: &str, condition: &str) -> Result<i32> {
        self.wait_with(self.events.subscribe(), name, condition, || false)
    }

    /// `wait` on events subscribed earlier (so a caller can subscribe before it answers).
    /// `docker wait` on events subscribed beforehand; `gave_up` is asked about once a
    /// second (a client that went away), and ends the wait with an error.
    pub fn wait_with(
        &self,
        events: std::sync::mpsc::Receiver<crate::events::Event>,
        name: &str,
        condition: &str,
        gave_up: impl Fn() -> bool,
    ) -> Result<i32> {
        let rec = self.find(name)?;
        let id = rec.id.clone();
        if condition != "next-exit" && condition != "removed" && !rec.state.status.is_live() {
            return Ok(rec.state.exit_code);
        }
        let want = if condition == "removed" {
            "destroy"
        } else {
            "die"
        };
        let mut code = rec.state.exit_code;
        loop {
            let ev = match events.recv_timeout(Duration::from_secs(1)) {
                Ok(ev) => ev,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if gave_up() => {
                    return Err(Error::State("the client went away".into()));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::State("engine is shutting down".into()));
                }
            };
            if ev.actor.id != id {
                continue;
            }
            if ev.action == "die" {
                code = ev
                    .actor
                    .attributes
                    .get("exitCode")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(code);
            }
            if ev.action == want {
                return Ok(code);
            }
        }
    }

    /// `docker rm [-f] [-v]`.
    pub fn remove(&self, name: &str, force: bool, volumes: bool) -> Result<()> {
        let rec = self.find(name)?;
        if rec.state.status.is_live() || rec.state.status == Status::Starting {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    rec.name
                )));
            }
            let events = self.events.subscribe();
            let _ = self.kill(&rec.id, "KILL");
            self.wait_gone(&rec.id, &events, Duration::from_secs(30));
        }
        self.check_not_copying(&rec.id)?;
        let rec = self.update(&rec.id, |r| r.state.status = Status::Removing)?;
        self.finish_remove(&rec, volumes)
    }

    pub(crate) fn finish_remove(&self, rec: &ContainerRecord, volumes: bool) -> Result<()> {
        self.undo_start(&rec.id);
        self.drop_removed(rec, volumes)
    }

    /// The last of a removal, once nothing of the container runs or is mounted: its
    /// directory, its record, its anonymous volumes with `volumes`.
    ///
    /// The record's deletion is committed after the `destroy` event: the removal is decided
    /// once `Removing` is durable (a daemon killed after that finishes it at start), so the
    /// waiting client need not wait for one more fsync.
    pub(crate) fn drop_removed(&self, rec: &ContainerRecord, volumes: bool) -> Result<()> {
        let dir = self.container_dir(&rec.id);
        self.trash.discard(&dir)?;
        self.lock().remove(&rec.id);
        self.drop_pending(&rec.id);
        if volumes {
            for m in rec.mounts.iter().filter(|m| m.anonymous) {
                let _ = self.volume_remove(&m.name, true);
            }
        }
        self.emit(rec, "destroy");
        self.db.delete(crate::db::Table::Containers, &rec.id)
    }

    pub fn pause(&self, name: &str) -> Result<()> {
        let rec = self.find(name)?;
        if rec.state.status != Status::Running {
            return Err(Error::State(format!("Container {} is not running", rec.id)));
        }
        Container::load(&self.runtime_root(), &rec.id)?.pause()?;
        let rec = self.update(&rec.id, |r| r.state.status = Status::Paused)?;
        self.emit(&rec, "pause");
        Ok(())
    }

    pub fn unpause(&self, name: &str) -> Result<()> {
        let rec = self.find(name)?;
        if rec.state.status != Status::Paused {
            return Err(Error::State(format!("Container {} is not paused", rec.id)));
        }
        Container::load(&self.runtime_root(), &rec.id)?.resume()?;
        let rec = self.update(&rec.id, |r| r.state.status = Status::Running)?;
        self.emit(&rec, "unpause");
        Ok(())
    }

    pub fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        if !valid_name(new_name) {
            return Err(Error::Invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let rec = {
            let mut map = self.lock();
            let id = find_in(&map, name)?.id.clone();
            if let Some(o) = map.values().find(|r| r.name == new_name && r.id != id) {
                return Err(Error::Conflict(format!(
                    "Conflict. The container name \"/{new_name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    o.id
                )));
            }
            let r = map.get_mut(&id).ok_or_else(|| Error::no_container(name))?;
            r.name = new_name.to_string();
            r.clone()
        };
        self.db.put(crate::db::Table::Containers, &rec.id, &rec)?;
        // Its names on its networks follow (docker renames the DNS entry too).
        for att in &rec.nets {
            self.dns.add(&rec.id, &rec.name, att);
        }
        self.emit(&rec, "rename");
        Ok(())
    }

    /// `docker restart`: stop, then start.
    pub fn restart(self: &Arc<Self>, name: &str, timeout: Option<i64>) -> Result<()> {
        self.stop(name, timeout)?;
        self.start(name)?;
        let rec = self.find(name)?;
        self.emit(&rec, "restart");
        Ok(())
    }
}

/// A restart policy docker knows.
pub(crate) fn check_restart_policy(hc: &crate::model::HostConfig) -> Result<()> {
    let policy = hc.restart_policy.name.as_str();
    if !matches!(
        policy,
        "" | "no" | "always" | "unless-stopped" | "on-failure"
    ) {
        return Err(Error::Invalid(format!("invalid restart policy '{policy}'")));
    }
    Ok(())
}
