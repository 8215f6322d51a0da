//! Reading an archive's tar stream: names are checked (no `..`, not absolute, links
//! stay inside), blobs named by digest go straight into the store (verified), every
//! other file is spooled to a temporary file hashed on the way.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::names::{clean, resolve_symlink, unsafe_entry};
use super::{blob_path_digest, decompress};
use crate::digest::{Digest, Verifier};
use crate::error::{io_err, Error, Result};
use crate::manifest::MAX_MANIFEST_SIZE;
use crate::registry::progress::{BlobOutcome, Counting, NoProgress, Progress};
use crate::store::Store;
use crate::unpack::Compression;

const MAX_LINK_HOPS: usize = 40;
/// Entries this large or larger (layers, not configs or manifests) report their progress.
const PROGRESS_MIN: u64 = 256 << 10;

/// One archive entry.
#[derive(Clone, Debug)]
pub(crate) enum Item {
    /// Already in the store under this digest.
    Blob(Digest, u64),
    /// Spooled to a temporary file.
    File {
        path: PathBuf,
        digest: Digest,
        size: u64,
    },
    /// A symlink or hardlink to another archive path (already resolved, clean).
    Link(String),
}

/// The archive's entries, by clean path.
pub(crate) struct Spool {
    dir: tempfile::TempDir,
    items: HashMap<String, Item>,
    store: Store,
}

impl Spool {
    /// Reads the whole (already decompressed) tar stream, reporting the bytes of each large
    /// entry to `progress` as they pass.
    pub(crate) fn read<R: Read>(input: R, store: &Store, progress: &dyn Progress) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(".archive-")
            .tempdir_in(store.root())
            .map_err(io_err("creating a spool directory"))?;
        let mut spool = Self {
            dir,
            items: HashMap::new(),
            store: store.clone(),
        };
        let mut counting = Verifier::new(input);
        {
            let mut archive = tar::Archive::new(&mut counting);
            for (n, entry) in archive.entries().map_err(tar_err)?.enumerate() {
                spool.entry(entry.map_err(tar_err)?, n, progress)?;
            }
        }
        // Reading to the end makes a decompressor check its trailer (truncation).
        io::copy(&mut counting, &mut io::sink()).map_err(tar_err)?;
        Ok(spool)
    }

    fn entry<R: Read>(
        &mut self,
        mut entry: tar::Entry<'_, R>,
        n: usize,
        progress: &dyn Progress,
    ) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let comps = clean(&raw, &shown)?;
        let name = comps.join("/");
        let item = match kind {
            EntryType::Directory => return Ok(()),
            _ if name.is_empty() => return Err(unsafe_entry(&shown, "entry for the root")),
            EntryType::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default();
                let dir = &comps[..comps.len() - 1];
                Item::Link(resolve_symlink(dir, &target, &shown)?)
            }
            EntryType::Link => {
                let target = entry.link_name_bytes().unwrap_or_default();
                let t = clean(&target, &shown)?;
                if t.is_empty() {
                    return Err(unsafe_entry(&shown, "hardlink to the root"));
                }
                Item::Link(t.join("/"))
            }
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.size();
                let blob = blob_path_digest(&name);
                // Layers report their bytes (docker's `Loading layer`); configs and
                // manifests do not. A layer's id as docker shows it: its digest, or the
                // legacy layer directory.
                let progress = if size >= PROGRESS_MIN {
                    progress
                } else {
                    &NoProgress
                };
                let id = blob
                    .clone()
                    .or_else(|| comps.first().and_then(|d| Digest::from_hex(d).ok()))
                    .unwrap_or_else(|| Digest::of_bytes(name.as_bytes()));
                let mut counted = Counting {
                    inner: &mut entry,
                    digest: &id,
                    done: 0,
                    total: size,
                    progress,
                };
                progress.started(&id, size);
                let item = match blob {
                    Some(d) => self.put_blob(&mut counted, d, size)?,
                    None => self.spool_file(&mut counted, size, n, &shown)?,
                };
                progress.finished(&id, &BlobOutcome::Loaded);
                item
            }
            other => {
                return Err(Error::Archive(format!(
                    "unexpected entry {shown:?} of type {other:?}"
                )))
            }
        };
        self.items.insert(name, item);
        Ok(())
    }

    fn put_blob<R: Read>(&self, entry: &mut R, digest: Digest, size: u64) -> Result<Item> {
        if self.store.exists(&digest) {
            // Still verified, not rewritten.
            let mut v = Verifier::expecting(entry, digest.clone(), size);
            io::copy(&mut v, &mut io::sink()).map_err(tar_err)?;
            v.finish()?;
        } else {
            self.store.put_stream(entry, Some((digest.clone(), size)))?;
        }
        Ok(Item::Blob(digest, size))
    }

    fn spool_file<R: Read>(&self, entry: &mut R, size: u64, n: usize, shown: &str) -> Result<Item> {
        let path = self.dir.path().join(format!("entry-{n}"));
        let file = File::create(&path).map_err(io_err(format!("spooling {shown}")))?;
        let mut w = Verifier::new(io::BufWriter::new(file));
        let copied = io::copy(entry, &mut w).map_err(tar_err)?;
        w.flush().map_err(io_err(format!("spooling {shown}")))?;
        if copied != size {
            return Err(Error::Archive(format!(
                "truncated archive: entry {shown:?} has {copied} of {size} bytes"
            )));
        }
        let (digest, size, _) = w.finish()?;
        Ok(Item::File { path, digest, size })
    }

    /// Follows links from `name` to a file entry; `None` if there is none.
    pub(crate) fn resolve(&self, name: &str) -> Result<Option<(String, &Item)>> {
        let mut cur = name.trim_start_matches("./").to_string();
        for _ in 0..MAX_LINK_HOPS {
            match self.items.get(&cur) {
                None => return Ok(None),
                Some(Item::Link(t)) => cur = t.clone(),
                Some(item) => return Ok(Some((cur, item))),
            }
        }
        Err(Error::Archive(format!("too many links resolving {name:?}")))
    }

    /// Whether `name` names a file of the archive.
    pub(crate) fn exists(&self, name: &str) -> bool {
        matches!(self.resolve(name), Ok(Some(_)))
    }

    /// Reads a small metadata file (`None` if absent); over `MAX_MANIFEST_SIZE` is an error.
    pub(crate) fn read_small(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some((_, item)) = self.resolve(name)? else {
            return Ok(None);
        };
        let size = match item {
            Item::Blob(_, size) | Item::File { size, .. } => *size,
            Item::Link(_) => return Ok(None),
        };
        if size > MAX_MANIFEST_SIZE {
            return Err(Error::ManifestTooLarge {
                size,
                limit: MAX_MANIFEST_SIZE,
            });
        }
        match item {
            Item::Blob(d, _) => self.store.read_verified(d, MAX_MANIFEST_SIZE).map(Some),
            Item::File { path, .. } => fs::read(path)
                .map(Some)
                .map_err(io_err(format!("reading {name}"))),
            Item::Link(_) => Ok(None),
        }
    }

    /// Makes the file `name` a blob of the store (moving a spooled file in, once);
    /// returns its digest and size, `None` if the archive has no such file.
    pub(crate) fn store_file(&mut self, name: &str) -> Result<Option<(Digest, u64)>> {
        let Some((key, item)) = self.resolve(name)? else {
            return Ok(None);
        };
        let (digest, size) = match item {
            Item::Blob(d, size) => return Ok(Some((d.clone(), *size))),
            Item::File { path, digest, size } => {
                adopt(&self.store, path, digest)?;
                (digest.clone(), *size)
            }
            Item::Link(_) => return Ok(None),
        };
        self.items.insert(key, Item::Blob(digest.clone(), size));
        Ok(Some((digest, size)))
    }

    /// Ensures the store has `digest`: already there, or the archive's
    /// `blobs/sha256/<hex>` (through links) moved in after checking its digest.
    pub(crate) fn ensure_blob(&mut self, digest: &Digest) -> Result<u64> {
        if self.store.exists(digest) {
            return self.store.size(digest);
        }
        let name = super::blob_name(digest);
        match self.store_file(&name)? {
            Some((d, size)) if d == *digest => Ok(size),
            Some((d, _)) => Err(Error::DigestMismatch {
                expected: digest.to_string(),
                actual: d.to_string(),
            }),
            None => Err(Error::Archive(format!("blob {digest} is missing"))),
        }
    }

    /// The store blobs go to.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Whether `digest` is in the store or in the archive.
    pub(crate) fn has_blob(&self, digest: &Digest) -> bool {
        self.store.exists(digest) || self.exists(&super::blob_name(digest))
    }

    /// The compression of a stored blob, by its magic bytes.
    pub(crate) fn blob_compression(&self, digest: &Digest) -> Result<Compression> {
        let mut head = Vec::with_capacity(4);
        self.store
            .get(digest)?
            .take(4)
            .read_to_end(&mut head)
            .map_err(io_err(format!("reading blob {digest}")))?;
        Ok(Compression::detect(&head))
    }

    /// Stores the decompressed content of blob `digest`; returns its digest and size.
    pub(crate) fn decompress_blob(&self, digest: &Digest) -> Result<(Digest, u64)> {
        let (_, reader) = decompress(self.store.get(digest)?)?;
        self.store.put_stream(reader, None)
    }
}

/// Moves a spooled file into the store as the blob `digest` (fsynced first).
fn adopt(store: &Store, path: &Path, digest: &Digest) -> Result<()> {
    let dest = store.blob_path(digest);
    if dest.exists() {
        return Ok(());
    }
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(format!("syncing {}", path.display())))?;
    fs::rename(path, &dest).map_err(io_err(format!("renaming to {}", dest.display())))?;
    if let Some(parent) = dest.parent() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io_err(format!("syncing {}", parent.display())))?;
    }
    Ok(())
}

fn tar_err(e: io::Error) -> Error {
    Error::Archive(format!("reading the tar stream: {e}"))
}
