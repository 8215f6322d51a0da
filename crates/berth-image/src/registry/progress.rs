//! Per-blob transfer progress: a callback trait (for progress bars), a no-op and a
//! plain-lines implementation, and a reader that reports bytes as they pass.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::Mutex;

use crate::digest::Digest;

/// How a blob's transfer ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobOutcome {
    /// Downloaded into the store.
    Fetched,
    /// Uploaded to the registry.
    Pushed,
    /// Already there (in the store when pulling, in the registry when pushing).
    Exists,
    /// Mounted on the registry from another repository (`domain/path`).
    Mounted(String),
    /// Read from an archive (`load`) into the store.
    Loaded,
}

/// Receives progress for each blob; calls may come from several threads at once.
pub trait Progress: Send + Sync {
    /// A pull chose this image: its config and layers (in order) are the blobs to come.
    fn image(&self, _config: &Digest, _layers: &[Digest]) {}
    /// A transfer of `total` bytes begins.
    fn started(&self, _digest: &Digest, _total: u64) {}
    /// `done` of `total` bytes have passed.
    fn advanced(&self, _digest: &Digest, _done: u64, _total: u64) {}
    /// The blob is done.
    fn finished(&self, _digest: &Digest, _outcome: &BlobOutcome) {}
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Writes one line per event to `W`: the start, each quarter, and the end.
pub struct LineProgress<W: Write + Send> {
    out: Mutex<W>,
    quarters: Mutex<HashMap<Digest, u64>>,
}

impl<W: Write + Send> LineProgress<W> {
    /// Lines go to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new(out),
            quarters: Mutex::new(HashMap::new()),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        match self.out.into_inner() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn line(&self, digest: &Digest, text: &str) {
        if let Ok(mut out) = self.out.lock() {
            // Progress output is best effort.
            let _ = writeln!(out, "{}: {text}", short(digest));
        }
    }
}

/// The first 12 hex digits, like docker's layer ids.
fn short(digest: &Digest) -> &str {
    &digest.hex()[..12]
}

impl<W: Write + Send> Progress for LineProgress<W> {
    fn started(&self, digest: &Digest, total: u64) {
        self.line(digest, &format!("transferring {total} bytes"));
    }

    fn advanced(&self, digest: &Digest, done: u64, total: u64) {
        let quarter = (done.saturating_mul(4))
            .checked_div(total)
            .unwrap_or(4)
            .min(4);
        let changed = match self.quarters.lock() {
            Ok(mut q) => q.insert(digest.clone(), quarter) != Some(quarter),
            Err(_) => false,
        };
        if changed && quarter > 0 && quarter < 4 {
            self.line(digest, &format!("{}% ({done}/{total} bytes)", quarter * 25));
        }
    }

    fn finished(&self, digest: &Digest, outcome: &BlobOutcome) {
        if let Ok(mut q) = self.quarters.lock() {
            q.remove(digest);
        }
        let text = match outcome {
            BlobOutcome::Fetched => "pulled".to_string(),
            BlobOutcome::Pushed => "pushed".to_string(),
            BlobOutcome::Exists => "already exists".to_string(),
            BlobOutcome::Mounted(from) => format!("mounted from {from}"),
            BlobOutcome::Loaded => "loaded".to_string(),
        };
        self.line(digest, &text);
    }
}

/// Reports every read to a [`Progress`], counting from `start`.
pub(crate) struct Counting<'a, R> {
    pub(crate) inner: R,
    pub(crate) digest: &'a Digest,
    pub(crate) done: u64,
    pub(crate) total: u64,
    pub(crate) progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        self.progress.advanced(self.digest, self.done, self.total);
        Ok(n)
    }
}
