//! Layers unpacked into snapshots, several at once and one unpack per chain id at a time:
//! for a container's first start, in the background right after a pull or a load, and
//! during a pull as each layer's blob arrives.

use crate::error::{Error, Result};
use crate::images::{Image, Images, MAX_CONFIG};
use berth_image::{Digest, Snapshots, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
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
                let u = self.unpacker.clone();
                u.background_started();
                let spawned = std::thread::Builder::new()
                    .name("unpack".into())
                    .spawn(move || {
                        background_priority();
                        // An error is left for the run that needs the layer to report.
                        let _ = u.one(&j);
                        u.background_done();
                    });
                if spawned.is_err() {
                    self.unpacker.background_done();
                }
            }
        }
    }

    /// The layer jobs from the config's diff ids (None if they do not match the layers).
    fn read_jobs(&self, st: &PullState) -> Option<Vec<Arc<LayerJob>>> {
        let config = st.config.as_ref()?;
        let bytes = self.unpacker.store.read_verified(config, MAX_CONFIG).ok()?;
        let config: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let diff_ids: Vec<Digest> = config["rootfs"]["diff_ids"]
            .as_array()?
            .iter()
            .map(|d| d.as_str().and_then(|d| Digest::parse(d).ok()))
            .collect::<Option<_>>()?;
        let img = Image {
            id: st.config.clone()?,
            manifest: st.config.clone()?,
            config: serde_json::Value::Null,
            layers: st.layers.clone(),
            diff_ids,
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            size: 0,
        };
        Some(layer_jobs(&img).ok()?.into_iter().map(Arc::new).collect())
    }
}

/// Background unpacking yields to the work a user waits on (a push right after a load must
/// not share the cores evenly with it): the calling thread, and the threads it starts, run at
/// nice 10. A run that needs the layer waits for it all the same.
pub(crate) fn background_priority() {
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

pub(crate) fn layer_jobs(img: &Image) -> Result<Vec<LayerJob>> {
    if img.layers.len() != img.diff_ids.len() {
        return Err(Error::Invalid(format!(
            "image {} has {} layers but {} diff ids",
            img.id,
            img.layers.len(),
            img.diff_ids.len()
        )));
    }
    let mut parent: Option<Digest> = None;
    let mut out = Vec::with_capacity(img.layers.len());
    for (blob, diff) in img.layers.iter().zip(&img.diff_ids) {
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
    pub(crate) fn background_started(&self) {
        *self
            .background
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
    }

    pub(crate) fn background_done(&self) {
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
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(missing.len());
        if threads <= 1 {
            return missing.iter().try_for_each(|j| self.one(j));
        }
        let next = AtomicUsize::new(0);
        let work = || -> Result<()> {
            while let Some(j) = missing.get(next.fetch_add(1, Ordering::Relaxed)) {
                self.one(j)?;
            }
            Ok(())
        };
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Invalid("an unpack thread panicked".into())))
                })
                .collect::<Vec<_>>()
                .into_iter()
                .collect()
        })
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
