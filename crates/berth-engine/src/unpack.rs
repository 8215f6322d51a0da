//! Layers unpacked into snapshots, several at once and one unpack per chain id at a time:
//! for a container's first start, in the background right after a pull or a load, and
//! during a pull as each layer's blob arrives.

use crate::error::{Error, Result};
use crate::images::{diff_ids, Images, MAX_CONFIG};
use berth_image::{Digest, Snapshots, Store};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// Unpacks a pull's layers while it downloads: each layer as soon as both its blob and the
/// image config (for its diff id) are in the store. Fed by the pull's progress.
pub struct PullUnpack {
    unpacker: Unpacker,
    state: Mutex<PullState>,
}

#[derive(Default)]
struct PullState {
    config: Option<Digest>,
    layers: Vec<Digest>,
    /// The jobs, once the config is read (None before, or if it could not be).
    jobs: Option<Vec<Arc<LayerJob>>>,
    ready: std::collections::HashSet<Digest>,
    started: std::collections::HashSet<Digest>,
}

impl Images {
    /// A [`PullUnpack`] over this store.
    pub fn pull_unpack(&self) -> PullUnpack {
        PullUnpack {
            unpacker: self.unpacker.clone(),
            state: Mutex::default(),
        }
    }
}

impl PullUnpack {
    /// The pull chose this image.
    pub fn image(&self, config: &Digest, layers: &[Digest]) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.config = Some(config.clone());
        st.layers = layers.to_vec();
    }

    /// A blob is in the store (fetched, or there already): start what it completes.
    pub fn ready(&self, blob: &Digest) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.ready.insert(blob.clone());
        if st.jobs.is_none() && st.config.as_ref().is_some_and(|c| st.ready.contains(c)) {
            st.jobs = self.read_jobs(&st);
        }
        let Some(jobs) = st.jobs.clone() else { return };
        for j in jobs {
            if st.ready.contains(&j.blob) && st.started.insert(j.blob.clone()) {
                // An error is left for the run that needs the layer to report.
                self.unpacker.in_background(move |u| drop(u.one(&j)));
            }
        }
    }

    /// The layer jobs from the config's diff ids (None if they do not match the layers).
    fn read_jobs(&self, st: &PullState) -> Option<Vec<Arc<LayerJob>>> {
        let config = st.config.as_ref()?;
        let bytes = self.unpacker.store.read_verified(config, MAX_CONFIG).ok()?;
        let diff_ids = diff_ids(&serde_json::from_slice(&bytes).ok()?).ok()?;
        let jobs = layer_jobs(config, &st.layers, &diff_ids).ok()?;
        Some(jobs.into_iter().map(Arc::new).collect())
    }
}

/// Background unpacking yields to the work a user waits on (a push right after a load must
/// not share the cores evenly with it): the calling thread, and the threads it starts, run at
/// nice 10. A run that needs the layer waits for it all the same.
fn background_priority() {
    // SAFETY: setpriority with PRIO_PROCESS and who 0 changes only the calling thread's nice
    // value on Linux; it touches no memory.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// One layer to unpack: its blob, diff id, and its chain id and parent's.
pub(crate) struct LayerJob {
    pub(crate) blob: Digest,
    pub(crate) diff: Digest,
    pub(crate) parent: Option<Digest>,
    pub(crate) chain: Digest,
}

/// The jobs for an image's layers (`id` names it in the error when the counts differ).
pub(crate) fn layer_jobs(
    id: &Digest,
    layers: &[Digest],
    diff_ids: &[Digest],
) -> Result<Vec<LayerJob>> {
    if layers.len() != diff_ids.len() {
        return Err(Error::Invalid(format!(
            "image {id} has {} layers but {} diff ids",
            layers.len(),
            diff_ids.len()
        )));
    }
    let mut parent: Option<Digest> = None;
    let mut out = Vec::with_capacity(layers.len());
    for (blob, diff) in layers.iter().zip(diff_ids) {
        let chain = berth_image::chain_id(parent.as_ref(), diff);
        out.push(LayerJob {
            blob: blob.clone(),
            diff: diff.clone(),
            parent: parent.replace(chain.clone()),
            chain,
        });
    }
    Ok(out)
}

/// Unpacks layers into snapshots, several at once; one unpack per chain id at a time
/// (a second caller waits for the first and then finds the snapshot there).
#[derive(Clone)]
pub(crate) struct Unpacker {
    pub(crate) store: Store,
    pub(crate) snapshots: Snapshots,
    pub(crate) inflight: Arc<Mutex<HashMap<Digest, Arc<Mutex<()>>>>>,
    /// How many background unpacks are running, and a signal when one ends.
    pub(crate) background: Arc<(Mutex<usize>, Condvar)>,
}

impl Unpacker {
    /// Runs `work` on a thread of its own at background priority, counted so that
    /// [`Unpacker::wait_background`] waits for it.
    pub(crate) fn in_background(&self, work: impl FnOnce(&Unpacker) + Send + 'static) {
        self.background_started();
        let u = self.clone();
        let spawned = std::thread::Builder::new()
            .name("unpack".into())
            .spawn(move || {
                background_priority();
                work(&u);
                u.background_done();
            });
        if spawned.is_err() {
            self.background_done();
        }
    }

    fn background_started(&self) {
        *self
            .background
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
    }

    fn background_done(&self) {
        let mut n = self
            .background
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *n = n.saturating_sub(1);
        self.background.1.notify_all();
    }

    pub(crate) fn wait_background(&self) {
        let mut n = self
            .background
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while *n > 0 {
            n = self
                .background
                .1
                .wait(n)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Unpacks the missing layers of `jobs` on up to as many threads as there are cores;
    /// the first error wins.
    pub(crate) fn run(&self, jobs: &[LayerJob]) -> Result<()> {
        let missing: Vec<&LayerJob> = jobs
            .iter()
            .filter(|j| !self.snapshots.exists(&j.chain))
            .collect();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        berth_image::run_parallel(&missing, cores, |j| self.one(j))
    }

    pub(crate) fn one(&self, j: &LayerJob) -> Result<()> {
        let lock = self
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(j.chain.clone())
            .or_default()
            .clone();
        let res = {
            let _held = lock.lock().unwrap_or_else(PoisonError::into_inner);
            if self.snapshots.exists(&j.chain) {
                Ok(())
            } else {
                self.store.get(&j.blob).map_err(Error::from).and_then(|f| {
                    self.snapshots
                        .apply_layer(j.parent.as_ref(), f, Some(&j.diff))
                        .map(drop)
                        .map_err(Error::from)
                })
            }
        };
        self.inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&j.chain);
        res
    }
}
