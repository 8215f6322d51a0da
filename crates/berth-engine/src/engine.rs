//! The engine: its configuration, its stores, and container lookup and persistence.
//! Operations live in their own modules (lifecycle, exec, logs, volumes, network).

use crate::container::{ContainerRecord, Status};
use crate::db::{Db, Table};
use crate::dns::Dns;
use crate::error::{Context, Error, Result};
use crate::events::Events;
use crate::exec::ExecRecord;
use crate::images::Images;
use crate::network::Networks;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where containers' cgroups go unless `--cgroup-parent` says otherwise (docker: /docker).
pub const DEFAULT_CGROUP_PARENT: &str = "/berth";

/// How the daemon was started.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Persistent state: images, containers' layers and logs, volumes, the state db.
    pub data_root: PathBuf,
    /// Runtime state: the runtime's container records, exec shims.
    pub exec_root: PathBuf,
    /// `--bip`: the default bridge's gateway address and prefix.
    pub bip: Option<String>,
    /// `--default-address-pool base=CIDR,size=N`, in order.
    pub default_pools: Vec<(String, u8)>,
    pub shim_binary: PathBuf,
    /// berth's nftables table (tests use their own).
    pub nft_table: String,
    /// The default bridge device.
    pub bridge_name: String,
    /// Registries spoken to over plain HTTP (besides loopback).
    pub insecure_registries: Vec<String>,
    /// `--dns`: where user networks' resolvers send names that are not containers'.
    pub dns: Vec<String>,
    /// `--cgroup-parent`: containers' cgroups are made under it (`<parent>/<id>`) unless a
    /// container names its own. The daemon owns it: on start it removes the empty cgroups
    /// there of containers that are not running.
    pub cgroup_parent: String,
}

impl EngineConfig {
    pub fn new(data_root: PathBuf, exec_root: PathBuf) -> EngineConfig {
        EngineConfig {
            data_root,
            exec_root,
            bip: None,
            default_pools: Vec::new(),
            shim_binary: berth_shim::default_shim_binary(),
            nft_table: berth_net::DEFAULT_TABLE.to_string(),
            bridge_name: "berth0".to_string(),
            insecure_registries: Vec::new(),
            dns: Vec::new(),
            cgroup_parent: DEFAULT_CGROUP_PARENT.to_string(),
        }
    }
}

pub struct Engine {
    pub cfg: EngineConfig,
    pub(crate) db: Db,
    pub images: Images,
    pub events: Events,
    pub(crate) containers: Mutex<BTreeMap<String, ContainerRecord>>,
    pub(crate) execs: Mutex<HashMap<String, ExecRecord>>,
    pub(crate) net: Networks,
    /// Resolvers of the user networks and the names they answer.
    pub(crate) dns: Dns,
    /// Ends the firewall watch when the engine goes.
    pub(crate) fw_stop: Arc<std::sync::atomic::AtomicBool>,
    /// The exit watcher (monitor.rs), started with the first container.
    pub(crate) watcher: std::sync::OnceLock<Option<Arc<crate::monitor::Watcher>>>,
    /// Attaches waiting for a container to start (`docker run` attaches before it starts).
    pub(crate) pending: Mutex<HashMap<String, Vec<PendingAttach>>>,
    /// Removed containers' and volumes' trees, deleted in the background.
    pub(crate) trash: crate::trash::Trash,
}

/// An attach made before the container's shim exists: served right after the shim makes
/// the container and before its process runs, so no output is missed.
pub(crate) struct PendingAttach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub keep_stdin: bool,
    pub tx: std::sync::mpsc::Sender<Result<std::os::unix::net::UnixStream>>,
}

impl Engine {
    /// Open (or make) the state under the configured roots and bring every container's
    /// state in line with what is really there (see `recover`).
    pub fn open(cfg: EngineConfig) -> Result<Arc<Engine>> {
        crate::cgroups::check_parent(&cfg.cgroup_parent)?;
        for d in [
            cfg.data_root.join("containers"),
            cfg.data_root.join("volumes"),
            cfg.exec_root.join("runtime"),
            cfg.exec_root.join("exec"),
        ] {
            std::fs::create_dir_all(&d).ctx(|| format!("creating {}", d.display()))?;
        }
        let db = Db::open(&cfg.data_root.join("berth.redb"))?;
        let trash = crate::trash::Trash::open(&cfg.data_root)?;
        let images = Images::open(&cfg.data_root.join("image"))?;
        let containers = db
            .list::<ContainerRecord>(Table::Containers)?
            .into_iter()
            .collect();
        let net = Networks::open(&cfg, &db)?;
        let dns = Dns::new(&cfg.dns);
        for n in net.list() {
            dns.start(&n);
        }
        let engine = Arc::new(Engine {
            cfg,
            db,
            images,
            events: Events::default(),
            containers: Mutex::new(containers),
            execs: Mutex::new(HashMap::new()),
            net,
            dns,
            fw_stop: Arc::default(),
            watcher: std::sync::OnceLock::new(),
            pending: Mutex::new(HashMap::new()),
            trash,
        });
        engine.recover()?;
        engine.watch_firewall();
        Ok(engine)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, BTreeMap<String, ContainerRecord>> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The runtime's state root.
    pub fn runtime_root(&self) -> PathBuf {
        self.cfg.exec_root.join("runtime")
    }

    /// A container's directory: bundle, layers, shim socket, log, exit file.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.cfg.data_root.join("containers").join(&id[..12])
    }

    /// Find a container by full id, unique id prefix, or name (with or without `/`).
    pub fn find(&self, name: &str) -> Result<ContainerRecord> {
        let map = self.lock();
        find_in(&map, name).cloned()
    }

    /// Every container, newest first.
    pub fn list(&self) -> Vec<ContainerRecord> {
        let mut v: Vec<ContainerRecord> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| b.created.cmp(&a.created));
        v
    }

    /// Change a record under the lock, then persist it; returns the new record.
    pub(crate) fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut ContainerRecord),
    ) -> Result<ContainerRecord> {
        let rec = {
            let mut map = self.lock();
            let rec = map.get_mut(id).ok_or_else(|| Error::no_container(id))?;
            f(rec);
            rec.clone()
        };
        self.db.put(Table::Containers, id, &rec)?;
        Ok(rec)
    }

    /// `update`, with `during` run while the new record is being committed (an fsync); the
    /// change reaches readers of the map only after `during`. Should the record have changed
    /// meanwhile (a rename), the result is committed again.
    pub(crate) fn update_during(
        &self,
        id: &str,
        f: impl Fn(&mut ContainerRecord),
        during: impl FnOnce(),
    ) -> Result<ContainerRecord> {
        let mut next = self.find(id)?;
        f(&mut next);
        let (committed, ()) = beside(|| self.db.put(Table::Containers, id, &next), during);
        let rec = {
            let mut map = self.lock();
            let rec = map.get_mut(id).ok_or_else(|| Error::no_container(id))?;
            f(rec);
            rec.clone()
        };
        committed?;
        if serde_json::to_vec(&rec).ok() != serde_json::to_vec(&next).ok() {
            self.db.put(Table::Containers, id, &rec)?;
        }
        Ok(rec)
    }

    pub(crate) fn forget(&self, id: &str) -> Result<()> {
        self.db.delete(Table::Containers, id)?;
        self.lock().remove(id);
        Ok(())
    }

    pub(crate) fn emit(&self, rec: &ContainerRecord, action: &str) {
        self.emit_with(rec, action, &[]);
    }

    /// A container event: its labels, image and name among the attributes, as docker's.
    pub(crate) fn emit_with(&self, rec: &ContainerRecord, action: &str, extra: &[(&str, &str)]) {
        let labels = rec.config.labels.iter().flatten();
        let mut attrs: Vec<(&str, &str)> = labels.map(|(k, v)| (k.as_str(), v.as_str())).collect();
        attrs.extend([("image", rec.image.as_str()), ("name", rec.name.as_str())]);
        attrs.extend_from_slice(extra);
        self.events.publish("container", action, &rec.id, &attrs);
    }

    /// Ids of containers using an image (for `rmi`).
    pub fn image_user(&self, image_id: &str) -> Option<String> {
        self.lock()
            .values()
            .find(|c| c.image_id == image_id && c.state.status != Status::Removing)
            .map(|c| c.id.clone())
    }
}

pub(crate) fn find_in<'a>(
    map: &'a BTreeMap<String, ContainerRecord>,
    name: &str,
) -> Result<&'a ContainerRecord> {
    if let Some(r) = map.get(name) {
        return Ok(r);
    }
    let bare = name.strip_prefix('/').unwrap_or(name);
    if let Some(r) = map.values().find(|r| r.name == bare) {
        return Ok(r);
    }
    let mut hits = map
        .values()
        .filter(|r| !name.is_empty() && r.id.starts_with(name));
    match (hits.next(), hits.next()) {
        (Some(r), None) => Ok(r),
        (Some(_), Some(_)) => Err(Error::Invalid(format!(
            "multiple IDs found with provided prefix: {name}"
        ))),
        _ => Err(Error::no_container(name)),
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.fw_stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `work` on a thread of its own while `here` runs on this one (a commit's fsync beside other
/// work); both results. When no thread can be made, one after the other.
pub(crate) fn beside<T: Send, U>(
    work: impl FnOnce() -> Result<T> + Send,
    here: impl FnOnce() -> U,
) -> (Result<T>, U) {
    // Shared, so that the work is still at hand when the thread cannot be made.
    let work = Mutex::new(Some(work));
    let run = || match work.lock().unwrap_or_else(|p| p.into_inner()).take() {
        Some(w) => w(),
        None => Err(Error::Store("the work already ran".into())),
    };
    std::thread::scope(|s| match std::thread::Builder::new().spawn_scoped(s, run) {
        Ok(handle) => {
            let u = here();
            let t = handle
                .join()
                .unwrap_or_else(|_| Err(Error::Store("the commit thread panicked".into())));
            (t, u)
        }
        Err(_) => (run(), here()),
    })
}

#[cfg(test)]
mod beside_tests {
    use super::*;

    #[test]
    fn both_run_and_both_results_come_back() {
        let main = std::thread::current().id();
        let (t, u) = beside(
            || Ok(std::thread::current().id()),
            || std::thread::current().id(),
        );
        assert_ne!(t.unwrap(), main, "the work runs on a thread of its own");
        assert_eq!(u, main);
        let (t, u) = beside(|| Err::<(), _>(Error::Store("x".into())), || 7);
        assert!(matches!(t, Err(Error::Store(_))) && u == 7);
    }
}
