//! Image archives: docker-archive and OCI layout round trips, interop with skopeo and
//! podman (skipped when absent), crafted bad archives, and `import`.

mod archive_support;

use std::path::Path;
use std::process::Command;

use archive_support::*;
use berth_image::archive::{import, load, save, ArchiveFormat, LoadedImage};
use berth_image::manifest::{diff_ids, parse_config, parse_manifest};
use berth_image::{unpack_layer, Digest, Error, Manifest, Reference, Store};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn r(name: &str) -> Reference {
    Reference::parse(name).unwrap()
}

/// A store with `busybox:latest` (gzip + plain layers) and `other/app:1` (one layer).
fn sample() -> (tempfile::TempDir, Store, (Digest, Digest, Vec<Digest>)) {
    let (dir, s) = store();
    let img = put_image(
        &s,
        "busybox:latest",
        &[
            (layer(&[("bin/sh", b"#!sh"), ("etc/passwd", b"root")]), true),
            (layer(&[("etc/hostname", b"box")]), false),
        ],
    );
    put_image(&s, "other/app:1", &[(layer(&[("app", b"app")]), true)]);
    (dir, s, img)
}

fn saved(s: &Store, names: &[&str], format: ArchiveFormat) -> Vec<u8> {
    let refs: Vec<Reference> = names.iter().map(|n| r(n)).collect();
    let mut out = Vec::new();
    save(s, &refs, format, &mut out).unwrap();
    out
}

/// The config and layer digests of the image a ref names.
fn image_of(s: &Store, name: &str) -> (Digest, Vec<Digest>, Vec<Digest>) {
    let md = s.get_ref(&r(name).to_string()).unwrap().expect("ref set");
    let bytes = s.read_verified(&md, 1 << 22).unwrap();
    let Manifest::Image(m) = parse_manifest(&bytes, None).unwrap().1 else {
        panic!("not an image manifest")
    };
    let cd = Digest::parse(m.config().digest().as_ref()).unwrap();
    let config = parse_config(&s.read_verified(&cd, 1 << 22).unwrap()).unwrap();
    let layers = m
        .layers()
        .iter()
        .map(|l| {
            let d = Digest::parse(l.digest().as_ref()).unwrap();
            assert!(s.exists(&d));
            d
        })
        .collect();
    (cd, diff_ids(&config).unwrap(), layers)
}

#[test]
fn oci_layout_round_trip_keeps_manifest_digest() {
    let (_d, s, (md, cd, _)) = sample();
    let tar = saved(&s, &["busybox", "other/app:1"], ArchiveFormat::OciLayout);
    assert_eq!(
        tar,
        saved(&s, &["busybox", "other/app:1"], ArchiveFormat::OciLayout)
    );
    let names: Vec<String> = entries(&tar).into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"oci-layout".to_string()) && names.contains(&"index.json".into()));

    let (_d2, s2) = store();
    let loaded = load(&tar[..], &s2).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(
        loaded[0],
        LoadedImage {
            reference: Some(r("busybox:latest")),
            manifest_digest: md.clone(),
            config_digest: cd.clone(),
        }
    );
    assert_eq!(
        s2.get_ref("docker.io/library/busybox:latest").unwrap(),
        Some(md)
    );
    assert_eq!(image_of(&s2, "other/app:1"), image_of(&s, "other/app:1"));
    assert!(
        leftovers(s2.root()).is_empty(),
        "{:?}",
        leftovers(s2.root())
    );

    // gzip-compressed archives load too.
    let (_d3, s3) = store();
    assert_eq!(load(&gzip(&tar)[..], &s3).unwrap(), loaded);
}

#[test]
fn docker_archive_round_trip_keeps_config_and_diff_ids() {
    let (_d, s, (md, cd, diffs)) = sample();
    s.set_ref(&r("busybox:alias").to_string(), &md).unwrap();
    let tar = saved(
        &s,
        &["busybox", "other/app:1", "busybox:alias"],
        ArchiveFormat::Docker,
    );
    let files = entries(&tar);
    let manifest = &files.iter().find(|(n, _)| n == "manifest.json").unwrap().1;
    let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    assert_eq!(manifest[0]["Config"], format!("blobs/sha256/{}", cd.hex()));
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!([
            "docker.io/library/busybox:latest",
            "docker.io/library/busybox:alias"
        ])
    );
    assert_eq!(
        manifest[0]["Layers"][0],
        format!("blobs/sha256/{}", diffs[0].hex())
    );
    assert!(files.iter().any(|(n, _)| n == "repositories"));
    // Layers are written uncompressed: each file hashes to its diff_id.
    for d in &diffs {
        let data = &files
            .iter()
            .find(|(n, _)| *n == format!("blobs/sha256/{}", d.hex()))
            .unwrap()
            .1;
        assert_eq!(Digest::of_bytes(data), *d);
    }

    let (_d2, s2) = store();
    let loaded = load(&tar[..], &s2).unwrap();
    let names: Vec<String> = loaded
        .iter()
        .map(|l| l.reference.clone().unwrap().familiar())
        .collect();
    assert_eq!(names, ["busybox:latest", "busybox:alias", "other/app:1"]);
    let (cd2, diffs2, layers2) = image_of(&s2, "busybox:latest");
    assert_eq!((cd2, &diffs2), (cd, &diffs));
    assert_eq!(layers2, diffs, "layers stored uncompressed");
    assert_eq!(loaded[0].manifest_digest, loaded[1].manifest_digest);
    assert!(leftovers(s2.root()).is_empty());
}

#[test]
fn legacy_docker_archive_with_layer_dirs_and_links() {
    let l1 = layer(&[("a", b"1")]);
    let l2 = layer(&[("b", b"2")]);
    let (d1, d2) = (Digest::of_bytes(&l1), Digest::of_bytes(&l2));
    let config = config_json(&[d1.clone(), d2.clone(), d1.clone()], "x");
    let cd = Digest::of_bytes(&config);
    let manifest = serde_json::json!([{
        "Config": format!("{}.json", cd.hex()),
        "RepoTags": ["localhost:5000/legacy:v1"],
        "Layers": ["aaa/layer.tar", "bbb/layer.tar", "ccc/layer.tar"],
    }]);
    let tar = Tar::new()
        .file("manifest.json", manifest.to_string().as_bytes())
        .dir("ccc/")
        .symlink("ccc/layer.tar", "../aaa/layer.tar")
        .file("bbb/layer.tar", &l2)
        .file("aaa/layer.tar", &l1)
        .file("aaa/VERSION", b"1.0")
        .file(&format!("{}.json", cd.hex()), &config)
        .finish();
    let (_d, s) = store();
    let loaded = load(&tar[..], &s).unwrap();
    assert_eq!(loaded[0].config_digest, cd);
    let (_, diffs, layers) = image_of(&s, "localhost:5000/legacy:v1");
    assert_eq!(layers, diffs);
    assert!(leftovers(s.root()).is_empty());
}

fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: {tool} is not installed (apt-get install -y {tool})");
    }
    ok
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn skopeo_docker_archive_loads_and_berth_archive_is_read_by_skopeo() {
    if !have("skopeo") {
        return;
    }
    let (_d, s, (_, cd, diffs)) = sample();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    untar(&saved(&s, &["busybox"], ArchiveFormat::OciLayout), &layout);
    let real = tmp.path().join("skopeo.tar");
    run(Command::new("skopeo")
        .args(["--insecure-policy", "copy"])
        .arg(format!("oci:{}:latest", layout.display()))
        .arg(format!("docker-archive:{}:x:1", real.display())));

    let (_d2, s2) = store();
    let loaded = load(std::fs::File::open(&real).unwrap(), &s2).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].reference, Some(r("x:1")));
    assert_eq!(loaded[0].config_digest, cd);
    assert_eq!(image_of(&s2, "x:1").1, diffs);

    // berth's docker-archive, read by skopeo.
    let ours = tmp.path().join("berth.tar");
    std::fs::write(&ours, saved(&s, &["busybox"], ArchiveFormat::Docker)).unwrap();
    let out = run(Command::new("skopeo")
        .arg("inspect")
        .arg(format!("docker-archive:{}", ours.display())));
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    let layers: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
    assert_eq!(info["Layers"], serde_json::json!(layers), "{out}");
    let config = run(Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("docker-archive:{}", ours.display())));
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], serde_json::json!(layers));
    let copy = tmp.path().join("copy");
    run(Command::new("skopeo")
        .args(["--insecure-policy", "copy"])
        .arg(format!("docker-archive:{}", ours.display()))
        .arg(format!("oci:{}:y", copy.display())));
    assert!(copy.join("index.json").is_file());
}

#[test]
fn podman_loads_berth_docker_archive() {
    if !have("podman") {
        return;
    }
    let (_d, s, _) = sample();
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("berth.tar");
    std::fs::write(&ours, saved(&s, &["busybox"], ArchiveFormat::Docker)).unwrap();
    let podman = |args: &[&str]| {
        let mut c = Command::new("podman");
        c.arg("--root").arg(tmp.path().join("root"));
        c.arg("--runroot").arg(tmp.path().join("run"));
        c.args([
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "none",
        ]);
        c.args(args);
        c.output().unwrap()
    };
    let info = podman(&["info"]);
    if !info.status.success() {
        eprintln!(
            "SKIPPED: podman cannot run here: {}",
            String::from_utf8_lossy(&info.stderr)
        );
        return;
    }
    let out = podman(&["load", "-i", ours.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "podman load: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let images = podman(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let listed = String::from_utf8_lossy(&images.stdout);
    assert!(
        listed.contains("docker.io/library/busybox:latest"),
        "{listed}"
    );

    // The OCI layout form too (podman reads it as an oci-archive).
    let oci = tmp.path().join("berth-oci.tar");
    std::fs::write(&oci, saved(&s, &["other/app:1"], ArchiveFormat::OciLayout)).unwrap();
    let out = podman(&["load", "-i", oci.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "podman load (oci): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn expect_rejected(tar: &[u8]) -> Error {
    let (_d, s) = store();
    let err = load(tar, &s).expect_err("archive accepted");
    assert!(s.refs().unwrap().is_empty(), "ref set after {err}");
    assert!(leftovers(s.root()).is_empty(), "{:?}", leftovers(s.root()));
    eprintln!("rejected as expected: {err}");
    err
}

/// A docker-archive with one good image plus `extra` entries.
fn docker_archive(extra: impl FnOnce(&mut Tar), layers: &[&str]) -> Vec<u8> {
    let l1 = layer(&[("a", b"1")]);
    let config = config_json(&vec![Digest::of_bytes(&l1); layers.len()], "x");
    let manifest = serde_json::json!([{
        "Config": "config.json", "RepoTags": ["good:1"], "Layers": layers,
    }]);
    let mut t = Tar::new();
    t.file("manifest.json", manifest.to_string().as_bytes())
        .file("config.json", &config)
        .file("l1.tar", &l1);
    extra(&mut t);
    t.finish()
}

#[test]
fn path_traversal_and_links_outside_are_rejected() {
    for (tar, entry) in [
        (
            docker_archive(
                |t| {
                    t.file("../evil", b"x");
                },
                &["l1.tar"],
            ),
            "../evil",
        ),
        (
            docker_archive(
                |t| {
                    t.file("a/../../evil", b"x");
                },
                &["l1.tar"],
            ),
            "a/../../evil",
        ),
        (
            docker_archive(
                |t| {
                    t.file("/etc/evil", b"x");
                },
                &["l1.tar"],
            ),
            "/etc/evil",
        ),
        (
            docker_archive(
                |t| {
                    t.symlink("l2.tar", "../../etc/passwd");
                },
                &["l1.tar", "l2.tar"],
            ),
            "l2.tar",
        ),
        (
            docker_archive(
                |t| {
                    t.symlink("l2.tar", "/etc/passwd");
                },
                &["l1.tar", "l2.tar"],
            ),
            "l2.tar",
        ),
        (
            docker_archive(
                |t| {
                    t.hardlink("l2.tar", "../x");
                },
                &["l1.tar", "l2.tar"],
            ),
            "l2.tar",
        ),
    ] {
        match expect_rejected(&tar) {
            Error::UnsafeEntry { entry: e, .. } => assert_eq!(e, entry),
            other => panic!("{entry}: {other}"),
        }
    }
    assert!(!std::env::temp_dir().join("evil").exists());
}

#[test]
fn missing_pieces_are_rejected() {
    let err = expect_rejected(&docker_archive(|_| {}, &["l1.tar", "gone/layer.tar"]));
    assert!(
        matches!(&err, Error::Archive(m) if m.contains("gone/layer.tar") && m.contains("missing")),
        "{err}"
    );
    let err = expect_rejected(&Tar::new().file("foo", b"bar").finish());
    assert!(err.to_string().contains("manifest.json"), "{err}");
    // A missing layer blob in an OCI layout.
    let (_d, s, _) = sample();
    let tar = saved(&s, &["busybox"], ArchiveFormat::OciLayout);
    let (_, _, layers) = image_of(&s, "busybox");
    let mut t = Tar::new();
    for (name, data) in entries(&tar) {
        if !name.ends_with('/') && name != format!("blobs/sha256/{}", layers[1].hex()) {
            t.file(&name, &data);
        }
    }
    let err = expect_rejected(&t.finish());
    assert!(
        matches!(&err, Error::Archive(m) if m.contains(&layers[1].to_string())),
        "{err}"
    );
}

/// An OCI layout whose index.json lists `manifest` (stored as a blob) with `media_type`.
fn oci_archive(t: &mut Tar, manifest: &[u8], media_type: &str) -> Vec<u8> {
    let md = t.blob(manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": media_type, "digest": md.to_string(), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "docker.io/library/bad:1"},
    }]});
    t.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .file("index.json", index.to_string().as_bytes())
        .finish()
}

#[test]
fn digest_mismatches_are_rejected() {
    // A blob whose content does not match its name.
    let l1 = layer(&[("a", b"1")]);
    let mut t = Tar::new();
    let d1 = Digest::of_bytes(&l1);
    t.file(&format!("blobs/sha256/{}", d1.hex()), b"tampered");
    let config = config_json(std::slice::from_ref(&d1), "x");
    let cd = t.blob(&config);
    let manifest = manifest_json((&cd, config.len()), &[(LAYER_TAR, d1, l1.len())]);
    let err = expect_rejected(&oci_archive(&mut t, &manifest, OCI_MANIFEST));
    assert!(
        matches!(
            err,
            Error::SizeMismatch { .. } | Error::DigestMismatch { .. }
        ),
        "{err}"
    );

    let mut t = Tar::new();
    let d1 = Digest::of_bytes(&l1);
    let mut same_len = l1.clone();
    same_len[0] ^= 1;
    t.file(&format!("blobs/sha256/{}", d1.hex()), &same_len);
    let err = expect_rejected(&t.finish());
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");

    // A docker-archive layer that does not match the config's diff_id.
    let other = layer(&[("b", b"2")]);
    let tar = docker_archive(
        |t| {
            t.file("l2.tar", &other);
        },
        &["l1.tar", "l2.tar"],
    );
    let err = expect_rejected(&tar);
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
}

#[test]
fn truncated_archives_are_rejected() {
    let (_d, s, _) = sample();
    for format in [ArchiveFormat::Docker, ArchiveFormat::OciLayout] {
        let tar = saved(&s, &["busybox"], format);
        for cut in [tar.len() / 3, tar.len() / 2, tar.len() - 2000] {
            expect_rejected(&tar[..cut]);
        }
        let gz = gzip(&tar);
        expect_rejected(&gz[..gz.len() - 10]);
    }
}

#[test]
fn huge_manifests_are_rejected() {
    let big = vec![b' '; 5 << 20];
    let err = expect_rejected(&Tar::new().file("manifest.json", &big).finish());
    assert!(matches!(err, Error::ManifestTooLarge { .. }), "{err}");
    let mut t = Tar::new();
    t.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .file("index.json", &big);
    assert!(matches!(
        expect_rejected(&t.finish()),
        Error::ManifestTooLarge { .. }
    ));
    let err = expect_rejected(&oci_archive(&mut Tar::new(), &big, OCI_MANIFEST));
    assert!(matches!(err, Error::ManifestTooLarge { .. }), "{err}");
}

#[test]
fn unknown_media_types_are_rejected() {
    let err = expect_rejected(&oci_archive(
        &mut Tar::new(),
        b"{}",
        "application/vnd.example+json",
    ));
    assert!(
        matches!(&err, Error::UnsupportedMediaType(t) if t == "application/vnd.example+json"),
        "{err}"
    );

    let l1 = layer(&[("a", b"1")]);
    let mut t = Tar::new();
    let d1 = t.blob(&l1);
    let config = config_json(std::slice::from_ref(&d1), "x");
    let cd = t.blob(&config);
    let manifest = manifest_json(
        (&cd, config.len()),
        &[("application/x-weird", d1, l1.len())],
    );
    let err = expect_rejected(&oci_archive(&mut t, &manifest, OCI_MANIFEST));
    assert!(
        matches!(&err, Error::UnsupportedMediaType(t) if t == "application/x-weird"),
        "{err}"
    );
}

#[test]
fn compressed_docker_archive_layers_are_stored_uncompressed() {
    let l1 = layer(&[("a", b"1")]);
    let d1 = Digest::of_bytes(&l1);
    let config = config_json(std::slice::from_ref(&d1), "x");
    let manifest =
        serde_json::json!([{"Config": "c.json", "RepoTags": ["gz:1"], "Layers": ["l1.tar.gz"]}]);
    let tar = Tar::new()
        .file("manifest.json", manifest.to_string().as_bytes())
        .file("c.json", &config)
        .file("l1.tar.gz", &gzip(&l1))
        .finish();
    let (_d, s) = store();
    load(&tar[..], &s).unwrap();
    assert_eq!(image_of(&s, "gz:1").2, [d1]);
}

#[test]
fn one_bad_image_sets_no_ref_at_all() {
    let l1 = layer(&[("a", b"1")]);
    let config = config_json(&[Digest::of_bytes(&l1)], "x");
    let manifest = serde_json::json!([
        {"Config": "c.json", "RepoTags": ["good:1"], "Layers": ["l1.tar"]},
        {"Config": "c.json", "RepoTags": ["bad:1"], "Layers": ["missing.tar"]},
    ]);
    let tar = Tar::new()
        .file("manifest.json", manifest.to_string().as_bytes())
        .file("c.json", &config)
        .file("l1.tar", &l1)
        .finish();
    expect_rejected(&tar);
}

fn rootfs() -> Vec<u8> {
    Tar::new()
        .dir("bin/")
        .file("bin/sh", b"#!/bin/true\n")
        .dir("etc/")
        .file("etc/hostname", b"imported\n")
        .symlink("etc/localtime", "/usr/share/zoneinfo/UTC")
        .finish()
}

#[test]
fn import_applies_changes_and_unpacks_to_the_same_files() {
    let (_d, s) = store();
    let changes: Vec<String> = [
        r#"CMD ["/bin/sh"]"#,
        "ENV A=b",
        "env C=\"d e\" F=g",
        "ENTRYPOINT exec tini --",
        "WORKDIR /srv",
        "USER 1000:1000",
        "EXPOSE 80 53/udp 8000-8001",
        "LABEL org.example=yes \"with space\"=1",
        r#"VOLUME ["/data"]"#,
        "VOLUME /cache /logs",
    ]
    .map(String::from)
    .to_vec();
    let name = r("imported:1");
    let img = import(&gzip(&rootfs())[..], &s, Some(&name), &changes).unwrap();
    assert_eq!(img.reference, Some(name.clone()));
    assert_eq!(
        s.get_ref(&name.to_string()).unwrap(),
        Some(img.manifest_digest.clone())
    );

    let config: serde_json::Value =
        serde_json::from_slice(&s.read_verified(&img.config_digest, 1 << 22).unwrap()).unwrap();
    let c = &config["config"];
    assert_eq!(c["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(c["Env"], serde_json::json!(["A=b", "C=d e", "F=g"]));
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/bin/sh", "-c", "exec tini --"])
    );
    assert_eq!(
        (c["WorkingDir"].as_str(), c["User"].as_str()),
        (Some("/srv"), Some("1000:1000"))
    );
    let ports: Vec<&String> = c["ExposedPorts"].as_object().unwrap().keys().collect();
    assert_eq!(ports, ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
    assert_eq!(
        c["Labels"],
        serde_json::json!({"org.example": "yes", "with space": "1"})
    );
    assert_eq!(
        c["Volumes"],
        serde_json::json!({"/data": {}, "/cache": {}, "/logs": {}})
    );
    let host = berth_image::Platform::host();
    assert_eq!(config["os"], host.os);
    assert_eq!(config["architecture"], host.architecture);
    assert_eq!(config["history"].as_array().unwrap().len(), 1);

    let (cd, diffs, layers) = image_of(&s, "imported:1");
    assert_eq!((cd, &layers), (img.config_digest.clone(), &diffs));
    assert_eq!(diffs, [Digest::of_bytes(&rootfs())]);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("rootfs");
    unpack_layer(s.get(&layers[0]).unwrap(), &dest, Some(&diffs[0])).unwrap();
    assert_eq!(
        std::fs::read(dest.join("bin/sh")).unwrap(),
        b"#!/bin/true\n"
    );
    assert_eq!(
        std::fs::read(dest.join("etc/hostname")).unwrap(),
        b"imported\n"
    );
    assert_eq!(
        std::fs::read_link(dest.join("etc/localtime")).unwrap(),
        Path::new("/usr/share/zoneinfo/UTC")
    );

    // The imported image saves and loads like any other.
    let tar = saved(&s, &["imported:1"], ArchiveFormat::Docker);
    let (_d2, s2) = store();
    assert_eq!(
        load(&tar[..], &s2).unwrap()[0].config_digest,
        img.config_digest
    );
}

#[test]
fn import_rejects_bad_changes_and_non_tar_input() {
    let (_d, s) = store();
    let name = r("imported:1");
    for change in [
        "RUN echo hi",
        "FROM scratch",
        "CMD",
        "EXPOSE 99999",
        "ENV =x",
        "LABEL \"open",
    ] {
        let err = import(&rootfs()[..], &s, Some(&name), &[change.to_string()]).unwrap_err();
        assert!(
            matches!(err, Error::InvalidChange { .. }),
            "{change}: {err}"
        );
    }
    let err = import(&b""[..], &s, Some(&name), &[]).unwrap_err();
    assert!(matches!(err, Error::Layer(_)), "{err}");
    let err = import(
        &gzip(b"not a tar at all, just some text")[..],
        &s,
        Some(&name),
        &[],
    )
    .unwrap_err();
    assert!(matches!(err, Error::Layer(_)), "{err}");
    assert!(s.refs().unwrap().is_empty());
}

#[test]
fn save_of_an_unknown_image_fails() {
    let (_d, s) = store();
    let err = save(&s, &[r("nope")], ArchiveFormat::Docker, Vec::new()).unwrap_err();
    assert!(matches!(err, Error::ImageNotFound(_)), "{err}");
}
