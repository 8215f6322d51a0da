//! A deterministic tar writer for archives: fixed mtime, uid/gid 0, fixed modes, each
//! blob written once, blobs copied from the store verified against their digest.

use std::collections::HashSet;
use std::io::{self, Read, Seek, Write};

use tar::{EntryType, Header};

use super::{blob_name, decompress};
use crate::digest::{Digest, Verifier};
use crate::error::{io_err, Error, Result};
use crate::store::Store;

/// The mtime written in every header.
pub(crate) const MTIME: u64 = 0;

pub(crate) struct TarOut<W: Write> {
    builder: tar::Builder<W>,
    written: HashSet<String>,
}

fn header(kind: EntryType, size: u64, mode: u32) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h
}

fn write_err(name: &str) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| io_err(format!("writing {name} to the archive"))(e)
}

impl<W: Write> TarOut<W> {
    pub(crate) fn new(writer: W) -> Self {
        let mut builder = tar::Builder::new(writer);
        builder.mode(tar::HeaderMode::Deterministic);
        Self {
            builder,
            written: HashSet::new(),
        }
    }

    /// Whether an entry of this name was already written.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.written.contains(name)
    }

    /// A directory entry (once).
    pub(crate) fn dir(&mut self, name: &str) -> Result<()> {
        if !self.written.insert(name.to_string()) {
            return Ok(());
        }
        let mut h = header(EntryType::Directory, 0, 0o755);
        self.builder
            .append_data(&mut h, name, io::empty())
            .map_err(write_err(name))
    }

    /// A regular file of exactly `size` bytes read from `data` (once).
    pub(crate) fn file<R: Read>(&mut self, name: &str, size: u64, data: R) -> Result<()> {
        if !self.written.insert(name.to_string()) {
            return Ok(());
        }
        let mut h = header(EntryType::Regular, size, 0o644);
        let mut counted = Verifier::new(data);
        self.builder
            .append_data(&mut h, name, &mut counted)
            .map_err(write_err(name))?;
        if Verifier::bytes(&counted) != size {
            return Err(Error::SizeMismatch {
                expected: size,
                actual: Verifier::bytes(&counted),
            });
        }
        Ok(())
    }

    /// A small file from memory.
    pub(crate) fn bytes(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.file(name, data.len() as u64, data)
    }

    /// The store's blob `digest` as `blobs/sha256/<hex>`, verified while copied.
    pub(crate) fn blob(&mut self, store: &Store, digest: &Digest) -> Result<()> {
        let name = blob_name(digest);
        if self.has(&name) {
            return Ok(());
        }
        let size = store.size(digest)?;
        let mut v = Verifier::expecting(store.get(digest)?, digest.clone(), size);
        self.file(&name, size, &mut v)?;
        v.finish()?;
        Ok(())
    }

    /// The decompressed content of the store's blob `digest`, which must hash to
    /// `diff_id`, as `blobs/sha256/<diff_id hex>`. The tar header needs the size first,
    /// so the content goes through an unnamed temporary file (memory stays flat).
    pub(crate) fn decompressed_blob(
        &mut self,
        store: &Store,
        digest: &Digest,
        diff_id: &Digest,
    ) -> Result<()> {
        let name = blob_name(diff_id);
        if self.has(&name) {
            return Ok(());
        }
        let mut tmp = tempfile::tempfile_in(store.root())
            .map_err(io_err("creating a temporary layer file"))?;
        let (_, reader) = decompress(store.get(digest)?)?;
        let mut v = Verifier::new(reader);
        io::copy(&mut v, &mut tmp).map_err(io_err(format!("decompressing layer {digest}")))?;
        let (actual, size, _) = v.finish()?;
        if actual != *diff_id {
            return Err(Error::DigestMismatch {
                expected: diff_id.to_string(),
                actual: actual.to_string(),
            });
        }
        tmp.rewind()
            .map_err(io_err("rewinding a temporary layer file"))?;
        self.file(&name, size, tmp)
    }

    /// Writes the end-of-archive marker and flushes.
    pub(crate) fn finish(self) -> Result<W> {
        let mut w = self
            .builder
            .into_inner()
            .map_err(io_err("finishing the archive"))?;
        w.flush().map_err(io_err("flushing the archive"))?;
        Ok(w)
    }
}
