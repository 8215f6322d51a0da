//! docker's JSON progress for pull, push and load: per-layer `Downloading`/`Pushing`/
//! `Loading layer` messages with `progressDetail` (the client draws the bars), at most one a
//! percent per layer, then how each layer ended. A pull's progress also feeds the engine's
//! unpacking as layers arrive.

use crate::stream::Sink;
use crate::Eng;
use berth_image::registry::{BasicAuth, BlobOutcome, Options, Progress};
use berth_image::Digest;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Which way the bytes go.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    Pull,
    Push,
    Load,
}

impl Transfer {
    /// docker's status while a layer moves.
    fn verb(self) -> &'static str {
        match self {
            Transfer::Pull => "Downloading",
            Transfer::Push => "Pushing",
            Transfer::Load => "Loading layer",
        }
    }
}

/// One JSON message, as a line of the response stream.
pub fn line(sink: &Mutex<Sink>, v: Value) {
    if let Ok(s) = sink.lock() {
        s.send(format!("{v}\r\n"));
    }
}

pub struct JsonProgress {
    sink: Arc<Mutex<Sink>>,
    transfer: Transfer,
    /// The percent last reported, per layer.
    shown: Mutex<HashMap<Digest, u64>>,
    /// A pull's layers unpacked as they arrive.
    unpack: Option<berth_engine::PullUnpack>,
}

fn short(d: &Digest) -> String {
    d.hex()[..12].to_string()
}

impl JsonProgress {
    pub fn new(
        sink: Arc<Mutex<Sink>>,
        transfer: Transfer,
        unpack: Option<berth_engine::PullUnpack>,
    ) -> Self {
        Self {
            sink,
            transfer,
            shown: Mutex::default(),
            unpack,
        }
    }

    fn detail(&self, d: &Digest, current: u64, total: u64) {
        line(
            &self.sink,
            json!({"status": self.transfer.verb(), "progressDetail": {"current": current, "total": total}, "id": short(d)}),
        );
    }
}

impl Progress for JsonProgress {
    fn image(&self, config: &Digest, layers: &[Digest]) {
        if let Some(u) = &self.unpack {
            u.image(config, layers);
        }
    }
    fn started(&self, d: &Digest, total: u64) {
        self.detail(d, 0, total);
    }
    fn advanced(&self, d: &Digest, done: u64, total: u64) {
        let pct = (done.saturating_mul(100)).checked_div(total).unwrap_or(100);
        let changed = match self.shown.lock() {
            Ok(mut m) => m.insert(d.clone(), pct) != Some(pct),
            Err(_) => false,
        };
        // A transfer ends with its outcome's line; a load with the full bar.
        if changed && (done < total || self.transfer == Transfer::Load) {
            self.detail(d, done, total);
        }
    }
    fn finished(&self, d: &Digest, o: &BlobOutcome) {
        if let Ok(mut m) = self.shown.lock() {
            m.remove(d);
        }
        if let (Some(u), BlobOutcome::Fetched | BlobOutcome::Exists) = (&self.unpack, o) {
            u.ready(d);
        }
        let status = match o {
            BlobOutcome::Fetched => "Download complete",
            BlobOutcome::Pushed => "Pushed",
            BlobOutcome::Exists if self.transfer == Transfer::Push => "Layer already exists",
            BlobOutcome::Exists => "Already exists",
            BlobOutcome::Mounted(_) => "Mounted from another repository",
            // The full bar `advanced` drew stays, as docker leaves it.
            BlobOutcome::Loaded => return,
        };
        line(
            &self.sink,
            json!({"status": status, "progressDetail": {}, "id": short(d)}),
        );
    }
}

/// Registry options for a pull or a push: the daemon's insecure registries, the client's
/// credentials, and progress to `sink`.
pub fn options(
    e: &Eng,
    auth: Option<BasicAuth>,
    sink: &Arc<Mutex<Sink>>,
    transfer: Transfer,
) -> Options {
    let unpack = (transfer == Transfer::Pull).then(|| e.images.pull_unpack());
    Options {
        insecure: e.cfg.insecure_registries.clone(),
        auth,
        progress: Arc::new(JsonProgress::new(sink.clone(), transfer, unpack)),
        ..Options::default()
    }
}
