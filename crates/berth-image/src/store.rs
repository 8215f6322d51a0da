//! Content-addressed blob store (`<root>/blobs/sha256/<hex>`) and the `refs` index
//! (name -> manifest digest) kept in `<root>/refs.json`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Verifier};
use crate::error::{io_err, Error, Result};

const REFS_FILE: &str = "refs.json";
const REFS_LOCK: &str = "refs.lock";

/// A blob store rooted at one directory.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    blobs: PathBuf,
}

impl Store {
    /// Opens (creating as needed) a store under `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let blobs = root.join("blobs").join(Digest::ALGORITHM);
        fs::create_dir_all(&blobs).map_err(io_err(format!("creating {}", blobs.display())))?;
        Ok(Self { root, blobs })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob for `digest` lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs.join(digest.hex())
    }

    /// Streams `reader` into the store. The data goes to a temporary file in the blob
    /// directory, hashed on the way, is fsynced and renamed into place only when it
    /// matches `expected` (digest and size) if given. On any error no blob and no
    /// temporary file are left behind. Returns the digest and size.
    pub fn put_stream<R: Read>(
        &self,
        reader: R,
        expected: Option<(Digest, u64)>,
    ) -> Result<(Digest, u64)> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.blobs)
            .map_err(io_err("creating temporary blob"))?;
        let mut verifier = match expected {
            Some((d, size)) => Verifier::expecting(reader, d, size),
            None => Verifier::new(reader),
        };
        io::copy(&mut verifier, tmp.as_file_mut()).map_err(io_err("writing blob"))?;
        let (digest, size, _) = verifier.finish()?;
        tmp.as_file().sync_all().map_err(io_err("syncing blob"))?;
        let dest = self.blob_path(&digest);
        tmp.persist(&dest)
            .map_err(|e| io_err(format!("renaming blob to {}", dest.display()))(e.error))?;
        sync_dir(&self.blobs)?;
        Ok((digest, size))
    }

    /// Stores a byte slice; returns its digest.
    pub fn put_bytes(&self, data: &[u8]) -> Result<Digest> {
        let expected = (Digest::of_bytes(data), data.len() as u64);
        Ok(self.put_stream(data, Some(expected))?.0)
    }

    /// Opens a blob for reading.
    pub fn get(&self, digest: &Digest) -> Result<File> {
        File::open(self.blob_path(digest)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::BlobNotFound(digest.to_string()),
            _ => io_err(format!("opening blob {digest}"))(e),
        })
    }

    /// Reads a whole blob of at most `limit` bytes into memory, verifying its digest.
    pub fn read_verified(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
        let file = self.get(digest)?;
        let size = file
            .metadata()
            .map_err(io_err(format!("stat blob {digest}")))?
            .len();
        if size > limit {
            return Err(Error::SizeMismatch {
                expected: limit,
                actual: size,
            });
        }
        let mut v = Verifier::expecting(file, digest.clone(), size);
        let mut buf = Vec::with_capacity(size as usize);
        v.read_to_end(&mut buf)
            .map_err(io_err(format!("reading blob {digest}")))?;
        v.finish()?;
        Ok(buf)
    }

    /// Whether a blob is present.
    pub fn exists(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// The size of a blob.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        Ok(self
            .get(digest)?
            .metadata()
            .map_err(io_err(format!("stat blob {digest}")))?
            .len())
    }

    /// Removes a blob; returns whether it was there.
    pub fn delete(&self, digest: &Digest) -> Result<bool> {
        match fs::remove_file(self.blob_path(digest)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(format!("deleting blob {digest}"))(e)),
        }
    }

    /// Every blob's digest, sorted (temporary files are skipped).
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.blobs).map_err(io_err("listing blobs"))?;
        for entry in entries {
            let entry = entry.map_err(io_err("listing blobs"))?;
            if let Some(d) = entry
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The whole refs index.
    pub fn refs(&self) -> Result<BTreeMap<String, Digest>> {
        read_json(&self.root, REFS_FILE)
    }

    /// The manifest digest `name` points to.
    pub fn get_ref(&self, name: &str) -> Result<Option<Digest>> {
        Ok(self.refs()?.remove(name))
    }

    /// Points `name` at `digest`; returns the previous target.
    pub fn set_ref(&self, name: &str, digest: &Digest) -> Result<Option<Digest>> {
        self.update_refs(|refs| refs.insert(name.to_string(), digest.clone()))
    }

    /// Removes `name`; returns its target if it had one.
    pub fn remove_ref(&self, name: &str) -> Result<Option<Digest>> {
        self.update_refs(|refs| refs.remove(name))
    }

    /// Read-modify-write of the refs index under an exclusive lock, written atomically.
    fn update_refs<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Digest>) -> T) -> Result<T> {
        update_json(&self.root, REFS_FILE, REFS_LOCK, |refs| (f(refs), true))
    }
}

/// Reads the JSON file `dir/name`; a missing file is the default (empty) value.
pub(crate) fn read_json<T: serde::de::DeserializeOwned + Default>(
    dir: &Path,
    name: &str,
) -> Result<T> {
    let path = dir.join(name);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(T::default()),
        Err(e) => return Err(io_err(format!("reading {}", path.display()))(e)),
    };
    serde_json::from_slice(&data).map_err(|source| Error::Json {
        context: format!("parsing {}", path.display()),
        source,
    })
}

/// Read-modify-writes the JSON file `dir/name` under an exclusive flock on `dir/lock`;
/// `f` returns its result and whether the value changed (only then is it written).
pub(crate) fn update_json<T, R>(
    dir: &Path,
    name: &str,
    lock: &str,
    f: impl FnOnce(&mut T) -> (R, bool),
) -> Result<R>
where
    T: serde::de::DeserializeOwned + serde::Serialize + Default,
{
    let lock_path = dir.join(lock);
    let lock_file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err(format!("opening {}", lock_path.display())))?;
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| crate::error::sys_err("flock", &lock_path)(errno))?;
    let mut value: T = read_json(dir, name)?;
    let (out, changed) = f(&mut value);
    if changed {
        let json = serde_json::to_vec_pretty(&value).map_err(|source| Error::Json {
            context: format!("serialising {name}"),
            source,
        })?;
        write_atomic(dir, name, &json)?;
    }
    Ok(out)
}

/// Writes `dir/name` through a synced temporary file renamed over it.
pub(crate) fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempfile_in(dir)
        .map_err(io_err(format!(
            "creating temporary file in {}",
            dir.display()
        )))?;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io_err(format!("writing {name}")))?;
    let dest = dir.join(name);
    tmp.persist(&dest)
        .map_err(|e| io_err(format!("renaming to {}", dest.display()))(e.error))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(format!("syncing {}", dir.display())))
}
