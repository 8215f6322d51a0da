//! Manifest, index and config parsing; platform selection.

use berth_image::manifest::{
    descriptor_digest, detect_kind, diff_ids, goarch, layer_compression, media_types as mt,
    parse_config, parse_manifest, select_platform, MAX_MANIFEST_SIZE,
};
use berth_image::{Compression, Digest, Error, Manifest, ManifestKind, Platform};

fn d(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn image_manifest(media_type: Option<&str>, config_type: &str, layer_type: &str) -> String {
    let mt = media_type
        .map(|m| format!(r#""mediaType": "{m}","#))
        .unwrap_or_default();
    format!(
        r#"{{"schemaVersion": 2, {mt}
            "config": {{"mediaType": "{config_type}", "digest": "{}", "size": 100}},
            "layers": [{{"mediaType": "{layer_type}", "digest": "{}", "size": 2000}},
                       {{"mediaType": "{layer_type}", "digest": "{}", "size": 3000}}]}}"#,
        d('c'),
        d('1'),
        d('2')
    )
}

fn index(media_type: &str) -> String {
    let entry = |digest: String, arch: &str, variant: Option<&str>, os: &str| {
        let v = variant
            .map(|v| format!(r#", "variant": "{v}""#))
            .unwrap_or_default();
        format!(
            r#"{{"mediaType": "{}", "digest": "{digest}", "size": 500,
                "platform": {{"architecture": "{arch}", "os": "{os}"{v}}}}}"#,
            mt::OCI_MANIFEST
        )
    };
    format!(
        r#"{{"schemaVersion": 2, "mediaType": "{media_type}", "manifests": [{}, {}, {}, {}, {}]}}"#,
        entry(d('a'), "unknown", None, "unknown"),
        entry(d('b'), "amd64", None, "linux"),
        entry(d('c'), "arm", Some("v6"), "linux"),
        entry(d('e'), "arm", Some("v7"), "linux"),
        entry(d('f'), "arm64", Some("v8"), "linux"),
    )
}

#[test]
fn oci_and_docker_manifests() {
    let oci = image_manifest(
        Some(mt::OCI_MANIFEST),
        mt::OCI_CONFIG,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    let (kind, m) = parse_manifest(oci.as_bytes(), None).unwrap();
    assert_eq!(kind, ManifestKind::OciManifest);
    let Manifest::Image(m) = m else {
        panic!("not an image manifest")
    };
    assert_eq!(m.layers().len(), 2);
    assert_eq!(descriptor_digest(m.config()).unwrap().to_string(), d('c'));

    let docker = image_manifest(
        Some(mt::DOCKER_MANIFEST),
        mt::DOCKER_CONFIG,
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    );
    let (kind, m) = parse_manifest(
        docker.as_bytes(),
        Some(&format!("{}; charset=utf-8", mt::DOCKER_MANIFEST)),
    )
    .unwrap();
    assert_eq!(kind, ManifestKind::DockerManifest);
    assert!(matches!(m, Manifest::Image(_)));

    // No mediaType in the document: detected from its shape.
    let bare = image_manifest(
        None,
        mt::OCI_CONFIG,
        "application/vnd.oci.image.layer.v1.tar",
    );
    assert_eq!(
        detect_kind(bare.as_bytes(), None).unwrap(),
        ManifestKind::OciManifest
    );
    assert_eq!(
        detect_kind(bare.as_bytes(), Some("application/json")).unwrap(),
        ManifestKind::OciManifest
    );
}

#[test]
fn rejects_unknown_and_mismatched() {
    let unknown = image_manifest(
        Some("application/vnd.example+json"),
        mt::OCI_CONFIG,
        "application/vnd.oci.image.layer.v1.tar",
    );
    assert!(
        matches!(parse_manifest(unknown.as_bytes(), None), Err(Error::UnsupportedMediaType(t)) if t == "application/vnd.example+json")
    );

    let helm = image_manifest(
        Some(mt::OCI_MANIFEST),
        "application/vnd.cncf.helm.config.v1+json",
        "application/vnd.oci.image.layer.v1.tar",
    );
    assert!(matches!(
        parse_manifest(helm.as_bytes(), None),
        Err(Error::UnsupportedMediaType(_))
    ));

    let odd_layer = image_manifest(
        Some(mt::OCI_MANIFEST),
        mt::OCI_CONFIG,
        "application/vnd.oci.image.layer.v1.tar+bzip2",
    );
    assert!(matches!(
        parse_manifest(odd_layer.as_bytes(), None),
        Err(Error::UnsupportedMediaType(_))
    ));

    let oci = image_manifest(
        Some(mt::OCI_MANIFEST),
        mt::OCI_CONFIG,
        "application/vnd.oci.image.layer.v1.tar",
    );
    assert!(matches!(
        parse_manifest(oci.as_bytes(), Some(mt::DOCKER_MANIFEST)),
        Err(Error::InvalidManifest(_))
    ));
    assert!(matches!(
        parse_manifest(oci.as_bytes(), Some(mt::OCI_INDEX)),
        Err(Error::InvalidManifest(_))
    ));

    let schema1 = r#"{"schemaVersion": 1, "name": "x", "fsLayers": []}"#;
    assert!(
        matches!(parse_manifest(schema1.as_bytes(), None), Err(Error::UnsupportedMediaType(t)) if t == mt::DOCKER_SCHEMA1)
    );
    assert!(matches!(
        parse_manifest(b"not json", None),
        Err(Error::InvalidManifest(_))
    ));
    assert!(matches!(
        parse_manifest(br#"{"schemaVersion": 2}"#, None),
        Err(Error::InvalidManifest(_))
    ));
}

#[test]
fn rejects_oversized() {
    let mut big = image_manifest(
        Some(mt::OCI_MANIFEST),
        mt::OCI_CONFIG,
        "application/vnd.oci.image.layer.v1.tar",
    );
    big.push_str(&" ".repeat(MAX_MANIFEST_SIZE as usize));
    let err = parse_manifest(big.as_bytes(), None).unwrap_err();
    assert!(matches!(err, Error::ManifestTooLarge { .. }), "{err}");
    assert!(err.to_string().contains("too large"));
    assert!(matches!(
        parse_config(big.as_bytes()),
        Err(Error::ManifestTooLarge { .. })
    ));
}

#[test]
fn index_platform_selection() {
    for (media_type, kind) in [
        (mt::OCI_INDEX, ManifestKind::OciIndex),
        (mt::DOCKER_MANIFEST_LIST, ManifestKind::DockerManifestList),
    ] {
        let (k, m) = parse_manifest(index(media_type).as_bytes(), None).unwrap();
        assert_eq!(k, kind);
        let Manifest::Index(ix) = m else {
            panic!("not an index")
        };
        let pick = |p: &str| {
            select_platform(&ix, &Platform::parse(p).unwrap()).map(|d| d.digest().to_string())
        };
        assert_eq!(pick("linux/amd64").unwrap(), d('b'));
        assert_eq!(
            pick("linux/x86_64").unwrap(),
            d('b'),
            "rust/uname names are mapped"
        );
        assert_eq!(
            pick("linux/arm64").unwrap(),
            d('f'),
            "v8 is arm64's default variant"
        );
        assert_eq!(pick("linux/arm/v7").unwrap(), d('e'));
        assert_eq!(pick("linux/arm/v6").unwrap(), d('c'));
        assert!(
            matches!(pick("linux/s390x"), Err(Error::NoMatchingPlatform(p)) if p == "linux/s390x")
        );
        assert!(pick("windows/amd64").is_err());
        assert!(
            pick("unknown/unknown").is_err(),
            "attestation entries only match real platforms"
        );

        let host = Platform::host();
        assert_eq!(host.os, "linux");
        assert_eq!(host.architecture, goarch(std::env::consts::ARCH));
        if matches!(host.architecture.as_str(), "amd64" | "arm64") {
            let want = if host.architecture == "amd64" {
                d('b')
            } else {
                d('f')
            };
            assert_eq!(
                select_platform(&ix, &host).unwrap().digest().to_string(),
                want
            );
        }
    }
    assert_eq!(goarch("x86_64"), "amd64");
    assert_eq!(goarch("aarch64"), "arm64");
}

#[test]
fn config_and_layer_types() {
    let config = format!(
        r#"{{"architecture": "amd64", "os": "linux", "config": {{"Env": ["PATH=/bin"], "Cmd": ["sh"]}},
            "rootfs": {{"type": "layers", "diff_ids": ["{}", "{}"]}}}}"#,
        d('1'),
        d('2')
    );
    let c = parse_config(config.as_bytes()).unwrap();
    assert_eq!(
        diff_ids(&c).unwrap(),
        vec![
            Digest::parse(&d('1')).unwrap(),
            Digest::parse(&d('2')).unwrap()
        ]
    );
    let bad = config.replace(&d('2'), "sha256:short");
    assert!(diff_ids(&parse_config(bad.as_bytes()).unwrap()).is_err());

    for (t, c) in [
        ("application/vnd.oci.image.layer.v1.tar", Compression::None),
        (
            "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Gzip,
        ),
        (
            "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::Zstd,
        ),
        (
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            Compression::Gzip,
        ),
        (
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            Compression::Gzip,
        ),
        (
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            Compression::Gzip,
        ),
    ] {
        assert_eq!(layer_compression(t).unwrap(), c, "{t}");
    }
    assert!(layer_compression("application/octet-stream").is_err());
}
