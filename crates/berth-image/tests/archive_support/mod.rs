//! Helpers for the archive tests: tars crafted entry by entry (raw names, so `..`
//! and absolute names can be written), images put straight into a store.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use berth_image::{Digest, Reference, Store};
use tar::{EntryType, Header};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A tar under construction, entries written with raw header names.
#[derive(Default)]
pub struct Tar(Vec<u8>);

impl Tar {
    pub fn new() -> Self {
        Self::default()
    }

    fn header(name: &str, kind: EntryType, size: u64, link: &str) -> Header {
        let mut h = Header::new_gnu();
        let slot = &mut h.as_old_mut().name;
        assert!(name.len() < slot.len(), "name too long");
        slot[..name.len()].copy_from_slice(name.as_bytes());
        let slot = &mut h.as_old_mut().linkname;
        slot[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(if kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        h
    }

    fn push(&mut self, h: Header, data: &[u8]) -> &mut Self {
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        let h = Self::header(name, EntryType::Regular, data.len() as u64, "");
        self.push(h, data)
    }

    pub fn dir(&mut self, name: &str) -> &mut Self {
        let h = Self::header(name, EntryType::Directory, 0, "");
        self.push(h, &[])
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = Self::header(name, EntryType::Symlink, 0, target);
        self.push(h, &[])
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = Self::header(name, EntryType::Link, 0, target);
        self.push(h, &[])
    }

    /// A blob under `blobs/sha256/<its digest>`; returns the digest.
    pub fn blob(&mut self, data: &[u8]) -> Digest {
        let d = Digest::of_bytes(data);
        self.file(&format!("blobs/sha256/{}", d.hex()), data);
        d
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.0);
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A small layer with the given files.
pub fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut t = Tar::new();
    for (name, data) in files {
        t.file(name, data);
    }
    t.finish()
}

/// An image config JSON for these diff_ids.
pub fn config_json(diff_ids: &[Digest], cmd: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": [cmd]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
    }))
    .unwrap()
}

fn desc(media_type: &str, digest: &Digest, size: usize) -> serde_json::Value {
    serde_json::json!({"mediaType": media_type, "digest": digest.to_string(), "size": size})
}

/// An OCI manifest JSON.
pub fn manifest_json(config: (&Digest, usize), layers: &[(&str, Digest, usize)]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": desc(OCI_CONFIG, config.0, config.1),
        "layers": layers.iter().map(|(t, d, s)| desc(t, d, *s)).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// Puts an image into `store` (layers gzip-compressed where `gz`), sets `name`;
/// returns (manifest digest, config digest, diff_ids).
pub fn put_image(
    store: &Store,
    name: &str,
    layers: &[(Vec<u8>, bool)],
) -> (Digest, Digest, Vec<Digest>) {
    let mut diff_ids = Vec::new();
    let mut descs = Vec::new();
    for (tar, gz) in layers {
        diff_ids.push(Digest::of_bytes(tar));
        let (blob, t) = if *gz {
            (gzip(tar), LAYER_GZIP)
        } else {
            (tar.clone(), LAYER_TAR)
        };
        let d = store.put_bytes(&blob).unwrap();
        descs.push((t, d, blob.len()));
    }
    let config = config_json(&diff_ids, name);
    let config_digest = store.put_bytes(&config).unwrap();
    let manifest = manifest_json((&config_digest, config.len()), &descs);
    let manifest_digest = store.put_bytes(&manifest).unwrap();
    let r = Reference::parse(name).unwrap();
    store.set_ref(&r.to_string(), &manifest_digest).unwrap();
    (manifest_digest, config_digest, diff_ids)
}

/// Names in the store root other than `blobs`, refs files and locks (leftovers).
pub fn leftovers(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !matches!(n.as_str(), "blobs" | "refs.json" | "refs.lock"))
        .collect();
    for e in std::fs::read_dir(root.join("blobs/sha256")).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        if n.starts_with('.') {
            out.push(n);
        }
    }
    out
}

/// Extracts a tar (made by the tests or berth) into `dir`.
pub fn untar(data: &[u8], dir: &Path) {
    tar::Archive::new(data).unpack(dir).unwrap();
}

/// Reads the tar entries into (name, bytes).
pub fn entries(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut buf).unwrap();
            (name, buf)
        })
        .collect()
}
