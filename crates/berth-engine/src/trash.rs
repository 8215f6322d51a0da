//! Removing directory trees off the request path: a tree is renamed into `<data-root>/trash`
//! (one rename, so it is gone from where it was at once) and deleted there by one background
//! thread. Deleting a container's layer and logs on ext4 takes milliseconds, most of a
//! `run --rm`'s removal; a daemon killed midway finds the leftovers in the trash at start.

use crate::error::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;

pub(crate) struct Trash {
    dir: PathBuf,
    /// The deleting thread's queue; None when it could not be started (then deletion is
    /// done in place, as before).
    queue: Mutex<Option<Sender<PathBuf>>>,
    seq: AtomicU64,
}

impl Trash {
    /// The trash under `data_root`, with whatever an earlier daemon left in it queued.
    pub(crate) fn open(data_root: &Path) -> Result<Trash> {
        let dir = data_root.join("trash");
        std::fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
        let (tx, rx) = channel::<PathBuf>();
        let started = std::thread::Builder::new()
            .name("trash".into())
            .spawn(move || {
                for p in rx {
                    let _ = std::fs::remove_dir_all(&p);
                }
            })
            .is_ok();
        let trash = Trash {
            dir,
            queue: Mutex::new(started.then_some(tx)),
            seq: AtomicU64::new(0),
        };
        if let Ok(rd) = std::fs::read_dir(&trash.dir) {
            for e in rd.flatten() {
                trash.queue(e.path());
            }
        }
        Ok(trash)
    }

    /// Take `tree` away now and delete it in the background. A tree that is already gone is
    /// fine; one that cannot be moved (another filesystem) is deleted in place.
    pub(crate) fn discard(&self, tree: &Path) -> Result<()> {
        let name = tree
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let to = self
            .dir
            .join(format!("{}-{}-{name}", std::process::id(), n));
        match std::fs::rename(tree, &to) {
            Ok(()) => {
                self.queue(to);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(_) => crate::remove_tree(tree),
        }
    }

    fn queue(&self, p: PathBuf) {
        let q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        match q.as_ref().map(|tx| tx.send(p)) {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                let _ = std::fs::remove_dir_all(e.0);
            }
            None => {}
        }
    }

    /// Block until everything queued so far is deleted.
    #[cfg(test)]
    pub(crate) fn settle(&self) {
        while std::fs::read_dir(&self.dir).is_ok_and(|mut rd| rd.next().is_some()) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discarded_trees_vanish_at_once_and_are_deleted_later() {
        let root = tempfile::tempdir().unwrap();
        let t = Trash::open(root.path()).unwrap();
        let tree = root.path().join("c1");
        std::fs::create_dir_all(tree.join("upper/a/b")).unwrap();
        std::fs::write(tree.join("upper/a/b/f"), b"x").unwrap();
        t.discard(&tree).unwrap();
        assert!(!tree.exists());
        t.settle();
        assert_eq!(
            std::fs::read_dir(root.path().join("trash"))
                .unwrap()
                .count(),
            0
        );
        // gone already: fine
        t.discard(&tree).unwrap();
    }

    #[test]
    fn leftovers_of_an_earlier_daemon_are_deleted_at_open() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("trash/99-0-c1/upper")).unwrap();
        let t = Trash::open(root.path()).unwrap();
        t.settle();
        assert!(!root.path().join("trash/99-0-c1").exists());
    }
}
