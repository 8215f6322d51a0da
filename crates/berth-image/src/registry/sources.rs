//! Which registry repositories each blob was pulled from or pushed to, kept in
//! `<store>/registry-sources.json` (`{"sha256:…": ["host/repo", …]}`), so a push can
//! ask the registry for a cross-repository mount instead of uploading.

use std::collections::{BTreeMap, BTreeSet};

use crate::digest::Digest;
use crate::error::Result;
use crate::store::{read_json, update_json, Store};

/// The record's file name in the store root.
pub const SOURCES_FILE: &str = "registry-sources.json";
const SOURCES_LOCK: &str = "registry-sources.lock";

type Sources = BTreeMap<String, BTreeSet<String>>;

fn load(store: &Store) -> Result<Sources> {
    read_json(store.root(), SOURCES_FILE)
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
    update_json(
        store.root(),
        SOURCES_FILE,
        SOURCES_LOCK,
        |sources: &mut Sources| {
            let mut changed = false;
            for d in digests {
                changed |= sources
                    .entry(d.to_string())
                    .or_default()
                    .insert(repository.to_string());
            }
            ((), changed)
        },
    )
}
