//! Which registry repositories each blob was pulled from or pushed to, kept in
//! `<store>/registry-sources.json` (`{"sha256:…": ["host/repo", …]}`), so a push can
//! ask the registry for a cross-repository mount instead of uploading.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io;

use crate::digest::Digest;
use crate::error::{io_err, sys_err, Error, Result};
use crate::store::{write_atomic, Store};

/// The record's file name in the store root.
pub const SOURCES_FILE: &str = "registry-sources.json";
const SOURCES_LOCK: &str = "registry-sources.lock";

type Sources = BTreeMap<String, BTreeSet<String>>;

fn load(store: &Store) -> Result<Sources> {
    let path = store.root().join(SOURCES_FILE);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Sources::new()),
        Err(e) => return Err(io_err(format!("reading {}", path.display()))(e)),
    };
    serde_json::from_slice(&data).map_err(|source| Error::Json {
        context: format!("parsing {}", path.display()),
        source,
    })
}

/// The repositories (`domain/path`) `digest` is known to be in.
pub fn blob_sources(store: &Store, digest: &Digest) -> Result<Vec<String>> {
    Ok(load(store)?
        .remove(&digest.to_string())
        .map(|s| s.into_iter().collect())
        .unwrap_or_default())
}

/// Records that every digest in `digests` is in `repository` (`domain/path`).
pub(crate) fn record(store: &Store, repository: &str, digests: &[Digest]) -> Result<()> {
    let lock_path = store.root().join(SOURCES_LOCK);
    let lock_file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err(format!("opening {}", lock_path.display())))?;
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| sys_err("flock", &lock_path)(errno))?;
    let mut sources = load(store)?;
    let mut changed = false;
    for d in digests {
        changed |= sources
            .entry(d.to_string())
            .or_default()
            .insert(repository.to_string());
    }
    if !changed {
        return Ok(());
    }
    let json = serde_json::to_vec_pretty(&sources).map_err(|source| Error::Json {
        context: "serialising registry sources".to_string(),
        source,
    })?;
    write_atomic(store.root(), SOURCES_FILE, &json)
}
