//! Layer unpacking: detect the compression, stream the tar into a fresh directory
//! (never through a symlink, never outside it), turn whiteouts into overlayfs form,
//! and compute the diff_id on the way.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::stat::SFlag;
use tar::EntryType;

use crate::digest::{Digest, Verifier};
use crate::error::{io_err, Error, Result};
use crate::fsops::{self, Cleared, Meta, OpenDir};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// A layer's compression, as declared or detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detects by magic bytes: gzip `1f 8b`, zstd `28 b5 2f fd`, anything else plain.
    pub fn detect(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else {
            Self::None
        }
    }
}

/// What unpacking a layer produced.
#[derive(Clone, Debug)]
pub struct Unpacked {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Length of the uncompressed tar stream.
    pub size: u64,
    /// The compression found.
    pub compression: Compression,
    /// Entries skipped or attributes not applied (device nodes, failed xattrs...).
    pub warnings: Vec<String>,
}

/// Unpacks the layer read from `reader` into `dest`, which must not exist. The work
/// happens in `<dest>.tmp-<random>` beside it, renamed to `dest` only on success;
/// on any error (unsafe entry, corrupt or truncated stream, diff_id other than
/// `expected_diff_id`) that directory is removed and `dest` is not created.
pub fn unpack_layer<R: Read + Send>(
    reader: R,
    dest: &Path,
    expected_diff_id: Option<&Digest>,
) -> Result<Unpacked> {
    if fs::symlink_metadata(dest).is_ok() {
        return Err(io_err(format!("unpacking into {}", dest.display()))(
            io::ErrorKind::AlreadyExists.into(),
        ));
    }
    let (parent, name) = match (dest.parent(), dest.file_name()) {
        (Some(p), Some(n)) => (
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            },
            n,
        ),
        _ => return Err(Error::Layer(format!("bad destination {}", dest.display()))),
    };
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{}.tmp-", name.to_string_lossy()))
        .tempdir_in(parent)
        .map_err(io_err(format!(
            "creating a directory in {}",
            parent.display()
        )))?;
    let out = unpack_into(reader, tmp.path())?;
    if let Some(want) = expected_diff_id {
        if *want != out.diff_id {
            return Err(Error::DigestMismatch {
                expected: want.to_string(),
                actual: out.diff_id.to_string(),
            });
        }
    }
    let tmp_path = tmp.keep();
    if let Err(e) = fs::rename(&tmp_path, dest) {
        let _ = fs::remove_dir_all(&tmp_path);
        return Err(io_err(format!("renaming to {}", dest.display()))(e));
    }
    Ok(out)
}

/// Unpacks into an existing empty directory `root` (no temporary directory). The stream is
/// decompressed and hashed on a thread of its own, a few chunks ahead of this one, which
/// writes the files: inflating and hashing are about a third of the work.
pub fn unpack_into<R: Read + Send>(reader: R, root: &Path) -> Result<Unpacked> {
    // The root's own `./` entry, if any, overrides this at the end.
    fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(io_err(format!("chmod {}", root.display())))?;
    let mut unpacker = Unpacker::new(root);
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(READ_AHEAD);
    let (decoded, written) = std::thread::scope(|s| {
        let decoding = s.spawn(move || decode_ahead(reader, tx));
        let mut stream = ReadAhead {
            rx,
            chunk: Vec::new(),
            pos: 0,
        };
        let written = unpacker.entries(&mut stream);
        // The diff_id covers the whole stream, padding after the end-of-archive included;
        // reading to the end also makes the decoder check its trailer (truncation). On an
        // error the stream is dropped, which stops the decoding thread.
        let written = written.and_then(|()| {
            io::copy(&mut stream, &mut io::sink())
                .map(drop)
                .map_err(layer_err)
        });
        drop(stream);
        let decoded = decoding
            .join()
            .unwrap_or_else(|_| Err(Error::Layer("the decoding thread panicked".into())));
        (decoded, written)
    });
    written?;
    let (compression, diff_id, size) = decoded?;
    unpacker.finish_dirs()?;
    Ok(Unpacked {
        diff_id,
        size,
        compression,
        warnings: unpacker.warnings,
    })
}

/// Chunks the decoding thread may run ahead by, and their size.
const READ_AHEAD: usize = 4;
const CHUNK: usize = 256 * 1024;
/// The buffer a file's bytes are written from: one write for most files.
const COPY_BUF: usize = 128 * 1024;

/// The decoding thread: decompress and hash `reader`, sending the bytes on in chunks, until
/// the end or until the receiver is gone.
fn decode_ahead<R: Read>(
    reader: R,
    tx: std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>,
) -> Result<(Compression, Digest, u64)> {
    let (compression, decoded) = decompress(reader)?;
    let mut hashing = Verifier::new(decoded);
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let mut n = 0;
        while n < CHUNK {
            match hashing.read(&mut chunk[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let msg = e.to_string();
                    let _ = tx.send(Err(e));
                    return Err(Error::Layer(format!("reading tar stream: {msg}")));
                }
            }
        }
        if n == 0 {
            break;
        }
        chunk.truncate(n);
        if tx.send(Ok(chunk)).is_err() {
            // The writer stopped (its own error says why).
            return Err(Error::Layer("unpacking stopped".into()));
        }
    }
    let (diff_id, size, _) = hashing.finish()?;
    Ok((compression, diff_id, size))
}

/// The consumer's side of `decode_ahead`: a reader over the chunks as they come.
struct ReadAhead {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The sender is gone: the end of the stream (or its error, reported by
                // the decoding thread's result).
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

pub(crate) fn layer_err(e: io::Error) -> Error {
    Error::Layer(format!("reading tar stream: {e}"))
}

struct Unpacker {
    root: PathBuf,
    /// The directory of the last entry, held open for the next ones.
    open: Option<OpenDir>,
    /// Directories whose metadata is applied at the end (children change mtimes).
    dirs: Vec<(PathBuf, Meta)>,
    warnings: Vec<String>,
    /// The buffer file contents are copied through.
    buf: Vec<u8>,
}

impl Unpacker {
    fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            open: None,
            dirs: Vec::new(),
            warnings: Vec::new(),
            buf: vec![0; COPY_BUF],
        }
    }

    /// Every entry of the tar stream, written under the root.
    fn entries(&mut self, stream: impl Read) -> Result<()> {
        let mut archive = tar::Archive::new(stream);
        for entry in archive.entries().map_err(layer_err)? {
            self.entry(entry.map_err(layer_err)?)?;
        }
        Ok(())
    }

    /// The directory `comps` resolve to: the one held open when it is the same.
    fn dir_for(&mut self, comps: Vec<OsString>, shown: &str) -> Result<&OpenDir> {
        let dir = match self.open.take() {
            Some(d) if d.comps == comps => d,
            _ => OpenDir::resolve(&self.root, comps, shown)?,
        };
        Ok(self.open.insert(dir))
    }

    /// [`fsops::clear_path`], letting go of the held directory when something was removed:
    /// a path under the root may now resolve elsewhere.
    fn clear(&mut self, path: &Path, keep_dir: bool) -> Result<Cleared> {
        let cleared = fsops::clear_path(path, keep_dir)?;
        if cleared == Cleared::Removed {
            self.open = None;
        }
        Ok(cleared)
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let mut comps = fsops::clean_name(&raw, &shown)?;
        let meta = fsops::read_meta(&mut entry)?;
        let kind = entry.header().entry_type();
        let Some(name) = comps.pop() else {
            if kind.is_dir() {
                self.dirs.push((self.root.clone(), meta));
            }
            return Ok(());
        };
        let name_bytes = name.as_bytes();
        if let Some(hidden) = name_bytes.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            let dir = self.dir_for(comps, &shown)?.path.clone();
            if name_bytes == OPAQUE_MARKER.as_bytes() {
                return fsops::make_opaque(&dir);
            }
            if hidden.starts_with(WHITEOUT_PREFIX.as_bytes()) {
                self.warnings
                    .push(format!("{shown}: skipped whiteout metadata entry"));
                return Ok(());
            }
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Err(fsops::unsafe_entry(&shown, "bad whiteout name"));
            }
            let path = dir.join(OsStr::from_bytes(hidden));
            self.clear(&path, false)?;
            fsops::make_whiteout(&path)?;
            return fsops::apply_meta(&path, &Meta { mode: 0, ..meta }, false, &mut self.warnings);
        }
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let (file, path) = self.create_file(comps, &name, &shown)?;
                self.copy_data(&mut entry, &file, &path)?;
                return fsops::apply_meta_open(&file, &path, &meta, &mut self.warnings);
            }
            EntryType::Directory => {
                let dir = self.dir_for(comps, &shown)?;
                let path = dir.path.join(&name);
                if !dir.make_dir(&name)? && self.clear(&path, true)? != Cleared::KeptDir {
                    fs::create_dir(&path).map_err(io_err(format!("mkdir {}", path.display())))?;
                }
                self.dirs.push((path, meta));
                return Ok(());
            }
            _ => {}
        }
        let path = self.dir_for(comps, &shown)?.path.join(&name);
        self.clear(&path, false)?;
        match kind {
            EntryType::Symlink => {
                let target = link_target(&entry, &shown)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .map_err(io_err(format!("symlink {}", path.display())))?;
                return fsops::apply_meta(&path, &meta, true, &mut self.warnings);
            }
            EntryType::Link => {
                let target = link_target(&entry, &shown)?;
                let mut tcomps = fsops::clean_name(&target, &shown)?;
                let tname = tcomps
                    .pop()
                    .ok_or_else(|| fsops::unsafe_entry(&shown, "hardlink to the root"))?;
                let tdir = fsops::resolve_dir(&self.root, &tcomps, false, &shown)?;
                let tpath = tdir.join(tname);
                match fs::symlink_metadata(&tpath) {
                    Ok(m) if !m.is_dir() => {}
                    _ => {
                        return Err(fsops::unsafe_entry(
                            &shown,
                            "hardlink target is missing or a directory",
                        ))
                    }
                }
                // hard_link uses linkat without AT_SYMLINK_FOLLOW: a symlink is linked, not followed.
                return fs::hard_link(&tpath, &path)
                    .map_err(io_err(format!("link {}", path.display())));
            }
            EntryType::Fifo => fsops::make_node(&path, SFlag::S_IFIFO, 0, 0)?,
            EntryType::Char | EntryType::Block => {
                let major = entry.header().device_major().ok().flatten().unwrap_or(1);
                let minor = entry.header().device_minor().ok().flatten().unwrap_or(1);
                if kind == EntryType::Char && major == 0 && minor == 0 {
                    fsops::make_whiteout(&path)?;
                } else {
                    self.warnings
                        .push(format!("{shown}: skipped device node {major}:{minor}"));
                    return Ok(());
                }
            }
            other => {
                self.warnings
                    .push(format!("{shown}: skipped entry type {other:?}"));
                return Ok(());
            }
        }
        fsops::apply_meta(&path, &meta, false, &mut self.warnings)
    }

    /// Creates the regular file `name` in the directory `comps` resolve to, replacing
    /// whatever has that name.
    fn create_file(
        &mut self,
        comps: Vec<OsString>,
        name: &OsStr,
        shown: &str,
    ) -> Result<(File, PathBuf)> {
        let dir = self.dir_for(comps, shown)?;
        let path = dir.path.join(name);
        if let Some(file) = dir.create_file(name)? {
            return Ok((file, path));
        }
        let comps = dir.comps.clone();
        self.clear(&path, false)?;
        match self.dir_for(comps, shown)?.create_file(name)? {
            Some(file) => Ok((file, path)),
            None => Err(io_err(format!("creating {}", path.display()))(
                io::ErrorKind::AlreadyExists.into(),
            )),
        }
    }

    /// The entry's bytes into `file`, through one buffer reused for every file.
    fn copy_data(&mut self, entry: &mut impl Read, mut file: &File, path: &Path) -> Result<()> {
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(layer_err(e)),
            };
            file.write_all(&self.buf[..n])
                .map_err(io_err(format!("writing {}", path.display())))?;
        }
    }

    /// Directories' metadata, deepest first. A directory a later entry replaced (it, or one
    /// above it, is now a symlink or a file) is skipped: its metadata went with it.
    fn finish_dirs(&mut self) -> Result<()> {
        self.open = None;
        let root = fsops::open_root(&self.root)?;
        let dirs = std::mem::take(&mut self.dirs);
        for (path, meta) in dirs.iter().rev() {
            if let Some(dir) = fsops::open_dir_beneath(&root, &self.root, path)? {
                fsops::apply_meta_open(&dir, path, meta, &mut self.warnings)?;
            }
        }
        Ok(())
    }
}

fn link_target<R: Read>(entry: &tar::Entry<'_, R>, shown: &str) -> Result<Vec<u8>> {
    match entry.link_name_bytes() {
        Some(t) if !t.is_empty() => Ok(t.into_owned()),
        _ => Err(fsops::unsafe_entry(shown, "link without a target")),
    }
}

/// Peeks at the first bytes and returns a reader that decompresses gzip or zstd.
pub(crate) fn decompress<'a, R: Read + 'a>(
    mut reader: R,
) -> Result<(Compression, Box<dyn Read + 'a>)> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err("reading the input")(e)),
        }
    }
    let compression = Compression::detect(&head[..n]);
    let input = io::Cursor::new(head[..n].to_vec()).chain(reader);
    let out: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(input).map_err(io_err("starting zstd"))?)
        }
    };
    Ok((compression, out))
}
