//! Registry client against a real `docker-registry` per test, and a fake server for
//! lying or oversized answers.

mod registry_support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::Arc;

use berth_image::manifest::{media_types as mt, MAX_MANIFEST_SIZE};
use berth_image::registry::{
    blob_sources, pull, push, BasicAuth, BlobOutcome, Credentials, LineProgress, Options, Registry,
};
use berth_image::{Digest, Error, Platform, Reference, Store};
use registry_support::*;
use serde_json::json;

fn amd64() -> Platform {
    Platform::parse("linux/amd64").unwrap()
}

fn options_with(rec: &Arc<Recorder>) -> Options {
    Options {
        progress: rec.clone(),
        ..Options::default()
    }
}

/// A store with one image under `reference`.
fn source_store(reference: &Reference) -> (tempfile::TempDir, Store, TestImage) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let img = build_image(&store, "amd64", "seed");
    store
        .set_ref(&reference.to_string(), &img.manifest)
        .unwrap();
    (dir, store, img)
}

fn outcomes(rec: &Recorder) -> Vec<BlobOutcome> {
    rec.take().into_iter().map(|(_, o)| o).collect()
}

#[test]
fn push_pull_roundtrip_skip_and_by_digest() {
    let Some(reg) = RegistryProc::start(None) else {
        return;
    };
    let r = Reference::parse(&format!("{}/test/app:1", reg.domain())).unwrap();
    let (_d, src, img) = source_store(&r);
    let rec = Arc::new(Recorder::default());
    let opts = options_with(&rec);

    let pushed = push(&r, &src, &opts).unwrap();
    assert_eq!(pushed.manifest_digest, img.manifest);
    assert_eq!(outcomes(&rec), vec![BlobOutcome::Pushed; 3]);

    // A second push finds every blob present.
    push(&r, &src, &opts).unwrap();
    assert_eq!(outcomes(&rec), vec![BlobOutcome::Exists; 3]);

    let dst_dir = tempfile::tempdir().unwrap();
    let dst = Store::open(dst_dir.path()).unwrap();
    let pulled = pull(&r, &dst, &amd64(), &opts).unwrap();
    assert_eq!(pulled.manifest_digest, img.manifest);
    assert_eq!(pulled.config_digest, img.config);
    assert_eq!(pulled.index_digest, None);
    assert_eq!(pulled.layers.len(), 2);
    for d in img.blobs().iter().chain([&img.manifest]) {
        assert_eq!(
            dst.read_verified(d, 1 << 20).unwrap().len() as u64,
            src.size(d).unwrap()
        );
    }
    assert_eq!(
        dst.get_ref(&r.to_string()).unwrap(),
        Some(img.manifest.clone())
    );
    assert_eq!(outcomes(&rec).len(), 3);
    assert_eq!(
        blob_sources(&dst, &img.config).unwrap(),
        vec![r.repository()]
    );

    // Pulling again skips what the store has.
    pull(&r, &dst, &amd64(), &opts).unwrap();
    assert_eq!(outcomes(&rec), vec![BlobOutcome::Exists; 3]);

    // By digest, into a fresh store.
    let by_digest = r.with_digest(&img.manifest);
    let dir3 = tempfile::tempdir().unwrap();
    let s3 = Store::open(dir3.path()).unwrap();
    let p3 = pull(&by_digest, &s3, &amd64(), &opts).unwrap();
    assert_eq!(p3.manifest_digest, img.manifest);
    assert_eq!(
        s3.get_ref(&by_digest.to_string()).unwrap(),
        Some(img.manifest.clone())
    );
    assert!(img.blobs().iter().all(|d| s3.exists(d)));

    // An unknown digest is a clear 404.
    let missing = r.with_digest(&Digest::of_bytes(b"nope"));
    let err = pull(&missing, &s3, &amd64(), &opts).unwrap_err();
    assert!(
        matches!(err, Error::RegistryStatus { status: 404, .. }),
        "{err}"
    );
}

#[test]
fn cross_repo_mount_and_chunked_upload() {
    let Some(reg) = RegistryProc::start(None) else {
        return;
    };
    let a = Reference::parse(&format!("{}/team/a:1", reg.domain())).unwrap();
    let b = Reference::parse(&format!("{}/team/b:1", reg.domain())).unwrap();
    let (_d, store, img) = source_store(&a);
    store.set_ref(&b.to_string(), &img.manifest).unwrap();
    let rec = Arc::new(Recorder::default());
    let opts = Options {
        chunk_size: Some(64),
        ..options_with(&rec)
    };
    push(&a, &store, &opts).unwrap();
    assert_eq!(outcomes(&rec), vec![BlobOutcome::Pushed; 3]);
    push(&b, &store, &opts).unwrap();
    let from = a.repository();
    assert_eq!(outcomes(&rec), vec![BlobOutcome::Mounted(from.clone()); 3]);
    let mut sources = blob_sources(&store, &img.layers[0]).unwrap();
    sources.sort();
    assert_eq!(sources, vec![from, b.repository()]);

    // Both repositories serve the image (the chunked upload arrived whole).
    for r in [&a, &b] {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let p = pull(r, &s, &amd64(), &Options::default()).unwrap();
        assert_eq!(p.manifest_digest, img.manifest);
        assert!(img.blobs().iter().all(|d| s.exists(d)));
    }
}

#[test]
fn index_is_resolved_to_the_platform() {
    let Some(reg) = RegistryProc::start(None) else {
        return;
    };
    let r = Reference::parse(&format!("{}/multi:latest", reg.domain())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let amd = build_image(&store, "amd64", "amd");
    let arm = build_image(&store, "arm64", "arm");
    let entry = |img: &TestImage, arch: &str| {
        json!({"mediaType": mt::OCI_MANIFEST, "digest": img.manifest.to_string(),
               "size": img.manifest_bytes.len(), "platform": {"os": "linux", "architecture": arch}})
    };
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": mt::OCI_INDEX,
        "manifests": [entry(&amd, "amd64"), entry(&arm, "arm64")]}))
    .unwrap();
    let index_digest = store.put_bytes(&index).unwrap();
    store.set_ref(&r.to_string(), &index_digest).unwrap();
    let pushed = push(&r, &store, &Options::default()).unwrap();
    assert_eq!(pushed.blobs.len(), 6);

    let dir2 = tempfile::tempdir().unwrap();
    let s2 = Store::open(dir2.path()).unwrap();
    let arm64 = Platform::parse("linux/arm64").unwrap();
    let p = pull(&r, &s2, &arm64, &Options::default()).unwrap();
    assert_eq!(p.index_digest, Some(index_digest.clone()));
    assert_eq!(p.manifest_digest, arm.manifest);
    assert!(s2.exists(&index_digest) && s2.exists(&arm.config));
    assert!(!s2.exists(&amd.config), "the other platform was fetched");
    let err = pull(
        &r,
        &s2,
        &Platform::parse("linux/s390x").unwrap(),
        &Options::default(),
    );
    assert!(matches!(err, Err(Error::NoMatchingPlatform(_))));
}

#[test]
fn htpasswd_basic_auth_and_credentials_file() {
    let Some(reg) = RegistryProc::start(Some(("alice", "s3cret"))) else {
        return;
    };
    let r = Reference::parse(&format!("{}/private/app:1", reg.domain())).unwrap();
    let (_d, store, _img) = source_store(&r);

    let err = push(&r, &store, &Options::default()).unwrap_err();
    assert!(matches!(err, Error::AuthenticationRequired { .. }), "{err}");
    assert!(err.to_string().contains("authentication"), "{err}");

    let bad = Options {
        auth: Some(BasicAuth {
            username: "alice".into(),
            password: "wrong".into(),
        }),
        ..Options::default()
    };
    let err = push(&r, &store, &bad).unwrap_err();
    assert!(err.to_string().contains("rejected"), "{err}");

    let home = tempfile::tempdir().unwrap();
    let creds = Credentials::new(home.path().join("berth/auth.json"));
    let auth = BasicAuth {
        username: "alice".into(),
        password: "s3cret".into(),
    };
    creds.login(r.domain(), &auth).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(creds.path()), 0o600);
    assert_eq!(mode(&home.path().join("berth")), 0o700);
    let text = std::fs::read_to_string(creds.path()).unwrap();
    assert!(text.contains("YWxpY2U6czNjcmV0"), "{text}"); // base64("alice:s3cret")
    assert_eq!(creds.get(r.domain()).unwrap(), Some(auth));

    let opts = Options {
        credentials: Some(creds.clone()),
        ..Options::default()
    };
    push(&r, &store, &opts).unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = Store::open(dir2.path()).unwrap();
    pull(&r, &s2, &amd64(), &opts).unwrap();
    Registry::new(r.domain(), &opts).unwrap().ping().unwrap();

    assert!(creds.logout(r.domain()).unwrap());
    assert!(!creds.logout(r.domain()).unwrap());
    assert_eq!(creds.get(r.domain()).unwrap(), None);
    let err = pull(&r, &s2, &amd64(), &opts).unwrap_err();
    assert!(matches!(err, Error::AuthenticationRequired { .. }), "{err}");
}

/// A fake registry serving `manifest` under tag `1` and `blobs` by digest.
fn fake(manifest: &[u8], content_type: &str, blobs: Vec<(Digest, Canned)>) -> FakeServer {
    let mut routes = vec![(
        "/v2/x/manifests/1".to_string(),
        Canned::ok(content_type, manifest.to_vec()),
    )];
    for (d, c) in blobs {
        routes.push((format!("/v2/x/blobs/{d}"), c));
    }
    FakeServer::start(routes)
}

fn manifest_with_layer(layer: &[u8], declared_size: usize) -> (Vec<u8>, Digest, Vec<u8>, Digest) {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let cd = Digest::of_bytes(&config);
    let ld = Digest::of_bytes(layer);
    let m = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": mt::OCI_MANIFEST,
        "config": {"mediaType": mt::OCI_CONFIG, "digest": cd.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": ld.to_string(), "size": declared_size}]}))
    .unwrap();
    (m, ld, config, cd)
}

fn assert_no_blob(store: &Store, d: &Digest) {
    assert!(!store.exists(d));
    let leftovers = files_under(&store.root().join("blobs/sha256"));
    assert!(
        leftovers
            .iter()
            .all(|p| !p.file_name().unwrap().to_string_lossy().starts_with(".tmp")),
        "{leftovers:?}"
    );
}

#[test]
fn lying_or_interrupted_blobs_leave_nothing() {
    let layer = gzip(b"the real layer content, long enough to be cut in half");
    // (declared size, served canned answer, expected error text)
    let cases: Vec<(usize, Canned, &str)> = vec![
        // The manifest claims fewer bytes than the server sends.
        (
            layer.len() - 5,
            Canned::ok("application/octet-stream", layer.clone()),
            "size",
        ),
        // Same, without Content-Length: the stream is cut off at the declared size.
        (
            layer.len() - 5,
            Canned {
                content_length: false,
                ..Canned::ok("application/octet-stream", layer.clone())
            },
            "longer",
        ),
        // The manifest claims more bytes than exist.
        (
            layer.len() + 5,
            Canned {
                content_length: false,
                ..Canned::ok("application/octet-stream", layer.clone())
            },
            "size mismatch",
        ),
        // The connection drops halfway.
        (
            layer.len(),
            Canned {
                truncate_at: Some(layer.len() / 2),
                ..Canned::ok("application/octet-stream", layer.clone())
            },
            "",
        ),
        // Right size, wrong bytes.
        (
            layer.len(),
            Canned::ok("application/octet-stream", vec![b'z'; layer.len()]),
            "digest mismatch",
        ),
    ];
    for (declared, canned, want) in cases {
        let (m, ld, config, cd) = manifest_with_layer(&layer, declared);
        let server = fake(
            &m,
            mt::OCI_MANIFEST,
            vec![
                (cd.clone(), Canned::ok("application/octet-stream", config)),
                (ld.clone(), canned),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = Reference::parse(&format!("{}/x:1", server.domain())).unwrap();
        let err = pull(&r, &store, &amd64(), &Options::default()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Blob { .. }), "{text}");
        assert!(
            text.contains(&ld.to_string()) && text.contains(want),
            "{want}: {text}"
        );
        assert_no_blob(&store, &ld);
        assert_eq!(store.get_ref(&r.to_string()).unwrap(), None);
    }
}

#[test]
fn bad_manifests_are_refused() {
    let (m, ..) = manifest_with_layer(b"l", 1);
    let pull_from = |server: &FakeServer, tag: &str| {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = Reference::parse(&format!("{}/x{tag}", server.domain())).unwrap();
        let res = pull(&r, &store, &amd64(), &Options::default());
        assert!(store.list().unwrap().is_empty());
        res.unwrap_err()
    };

    let unknown = "application/vnd.example.unknown+json";
    let odd = String::from_utf8(m.clone())
        .unwrap()
        .replace(mt::OCI_MANIFEST, unknown);
    let server = fake(odd.as_bytes(), unknown, vec![]);
    let err = pull_from(&server, ":1");
    assert!(matches!(err, Error::UnsupportedMediaType(_)), "{err}");

    let big = vec![b' '; MAX_MANIFEST_SIZE as usize + 10];
    let server = fake(&big, mt::OCI_MANIFEST, vec![]);
    assert!(matches!(
        pull_from(&server, ":1"),
        Error::ManifestTooLarge { .. }
    ));
    // Without Content-Length the read is capped.
    let server = FakeServer::start(vec![(
        "/v2/x/manifests/1".into(),
        Canned {
            content_length: false,
            ..Canned::ok(mt::OCI_MANIFEST, big)
        },
    )]);
    assert!(matches!(
        pull_from(&server, ":1"),
        Error::ManifestTooLarge { .. }
    ));

    // By digest, the bytes must hash to it.
    let wrong = Digest::of_bytes(b"other");
    let server = FakeServer::start(vec![(
        format!("/v2/x/manifests/{wrong}"),
        Canned::ok(mt::OCI_MANIFEST, m.clone()),
    )]);
    let err = pull_from(&server, &format!("@{wrong}"));
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");

    // A Docker-Content-Digest that disagrees is refused too.
    let mut c = Canned::ok(mt::OCI_MANIFEST, m);
    c.headers
        .push(("Docker-Content-Digest".into(), wrong.to_string()));
    let server = FakeServer::start(vec![("/v2/x/manifests/1".into(), c)]);
    assert!(matches!(
        pull_from(&server, ":1"),
        Error::DigestMismatch { .. }
    ));
}

#[test]
fn line_progress_prints_lines() {
    let Some(reg) = RegistryProc::start(None) else {
        return;
    };
    let r = Reference::parse(&format!("{}/lines:1", reg.domain())).unwrap();
    let (_d, store, img) = source_store(&r);
    let lines = Arc::new(LineProgress::new(Vec::new()));
    let opts = Options {
        progress: lines.clone(),
        ..Options::default()
    };
    push(&r, &store, &opts).unwrap();
    drop(opts);
    let text = String::from_utf8(Arc::try_unwrap(lines).ok().unwrap().into_inner()).unwrap();
    assert!(
        text.contains(&format!("{}: pushed", &img.config.hex()[..12])),
        "{text}"
    );
}

fn skopeo() -> bool {
    Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn skopeo_interop() {
    if !skopeo() {
        eprintln!("skipping: skopeo missing (apt-get install skopeo)");
        return;
    }
    let Some(reg) = RegistryProc::start(None) else {
        return;
    };
    let r = Reference::parse(&format!("{}/interop/berth:1", reg.domain())).unwrap();
    let (_d, store, img) = source_store(&r);
    push(&r, &store, &Options::default()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    let status = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", &format!("docker://{r}")])
        .arg(format!("oci:{}:x", layout.display()))
        .status()
        .unwrap();
    assert!(status.success());
    for d in img.blobs() {
        assert!(layout.join("blobs/sha256").join(d.hex()).exists(), "{d}");
    }

    // skopeo pushes the layout it wrote to another repository; berth pulls it.
    let r2 = Reference::parse(&format!("{}/interop/skopeo:2", reg.domain())).unwrap();
    let status = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:x", layout.display()))
        .arg(format!("docker://{r2}"))
        .status()
        .unwrap();
    assert!(status.success());
    let dir = tempfile::tempdir().unwrap();
    let s2 = Store::open(dir.path()).unwrap();
    let p = pull(&r2, &s2, &amd64(), &Options::default()).unwrap();
    assert_eq!(p.config_digest, img.config);
    assert!(img.blobs().iter().all(|d| s2.exists(d)));
}

#[test]
fn bearer_token_is_fetched_and_cached() {
    let (m, ld, config, cd) = manifest_with_layer(b"layer", 5);
    let port = free_port();
    let challenge = format!(
        r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake",scope="repository:x:pull""#
    );
    let guarded = |c: Canned| Canned {
        require: Some((challenge.clone(), "Bearer tok123".into())),
        ..c
    };
    let routes = vec![
        (
            "/v2/x/manifests/1".to_string(),
            guarded(Canned::ok(mt::OCI_MANIFEST, m)),
        ),
        (
            format!("/v2/x/blobs/{cd}"),
            guarded(Canned::ok("application/octet-stream", config)),
        ),
        (
            format!("/v2/x/blobs/{ld}"),
            guarded(Canned::ok("application/octet-stream", b"layer".to_vec())),
        ),
        (
            "/token?service=fake&scope=repository%3Ax%3Apull".to_string(),
            Canned::ok("application/json", br#"{"token":"tok123"}"#.to_vec()),
        ),
    ];
    let server = FakeServer::start_on(port, routes);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let r = Reference::parse(&format!("{}/x:1", server.domain())).unwrap();
    pull(&r, &store, &amd64(), &Options::default()).unwrap();
    assert!(store.exists(&ld) && store.exists(&cd));
    let seen = server.requests.lock().unwrap().clone();
    let tokens = seen.iter().filter(|p| p.starts_with("/token")).count();
    assert_eq!(tokens, 1, "{seen:?}");
}
