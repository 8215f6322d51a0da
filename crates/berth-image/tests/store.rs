//! Blob store and refs index.

use std::fs;
use std::io::Read;

use berth_image::{Digest, Error, Store};

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let data = vec![7u8; 300_000];
    let want = Digest::of_bytes(&data);
    let (d, n) = store
        .put_stream(&data[..], Some((want.clone(), data.len() as u64)))
        .unwrap();
    assert_eq!((d.clone(), n), (want.clone(), 300_000));
    assert!(store.exists(&d));
    assert_eq!(
        store.blob_path(&d),
        tmp.path().join("blobs/sha256").join(d.hex())
    );
    let mut back = Vec::new();
    store.get(&d).unwrap().read_to_end(&mut back).unwrap();
    assert_eq!(back, data);
    assert_eq!(store.read_verified(&d, 1 << 20).unwrap(), data);
    assert!(store.read_verified(&d, 1000).is_err(), "limit enforced");
    assert_eq!(store.size(&d).unwrap(), 300_000);

    // Without an expectation the digest is computed.
    let (d2, _) = store.put_stream(&b"second"[..], None).unwrap();
    assert_eq!(d2, Digest::of_bytes(b"second"));
    let mut all = vec![d.clone(), d2.clone()];
    all.sort();
    assert_eq!(store.list().unwrap(), all);

    assert!(store.delete(&d).unwrap());
    assert!(!store.delete(&d).unwrap());
    assert!(!store.exists(&d));
    assert!(matches!(store.get(&d), Err(Error::BlobNotFound(_))));
    assert_eq!(store.list().unwrap(), vec![d2]);
}

#[test]
fn mismatch_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let blobs = tmp.path().join("blobs/sha256");
    let data = b"some content";
    let wrong = Digest::of_bytes(b"other content");

    let err = store
        .put_stream(&data[..], Some((wrong.clone(), data.len() as u64)))
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    let right = Digest::of_bytes(data);
    let err = store
        .put_stream(&data[..], Some((right.clone(), 5)))
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "oversized stream: {err}");
    let err = store
        .put_stream(&data[..], Some((right.clone(), 100)))
        .unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");

    // A reader that fails half-way.
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("network down"));
            }
            self.0 -= 1;
            buf[0] = 1;
            Ok(1)
        }
    }
    assert!(store.put_stream(Failing(10), None).is_err());

    assert!(
        entries(&blobs).is_empty(),
        "left behind: {:?}",
        entries(&blobs)
    );
    assert!(!store.exists(&wrong) && !store.exists(&right));
}

#[test]
fn refs_index() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let a = Digest::of_bytes(b"a");
    let b = Digest::of_bytes(b"b");
    assert_eq!(
        store.get_ref("docker.io/library/busybox:latest").unwrap(),
        None
    );
    assert_eq!(
        store
            .set_ref("docker.io/library/busybox:latest", &a)
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .set_ref("docker.io/library/busybox:latest", &b)
            .unwrap(),
        Some(a.clone())
    );
    store.set_ref("docker.io/library/alpine:3", &a).unwrap();

    // A fresh handle reads the same index from disk.
    let again = Store::open(tmp.path()).unwrap();
    let refs = again.refs().unwrap();
    assert_eq!(refs.len(), 2);
    assert_eq!(refs["docker.io/library/busybox:latest"], b);
    assert_eq!(
        again.remove_ref("docker.io/library/alpine:3").unwrap(),
        Some(a)
    );
    assert_eq!(again.get_ref("docker.io/library/alpine:3").unwrap(), None);

    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join("refs.json")).unwrap()).unwrap();
    assert_eq!(json["docker.io/library/busybox:latest"], b.to_string());
    let names = entries(tmp.path());
    assert!(
        names.iter().all(|n| !n.contains(".tmp-")),
        "temp files left: {names:?}"
    );
}
