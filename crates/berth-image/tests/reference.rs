//! Reference parsing and normalisation, checked against docker's behaviour.

use berth_image::{Error, Reference};

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn normalisation_table() {
    let d = format!("sha256:{HEX}");
    let cases: Vec<(String, String, String)> = vec![
        (
            "busybox".into(),
            "docker.io/library/busybox:latest".into(),
            "busybox:latest".into(),
        ),
        (
            "busybox:1.36".into(),
            "docker.io/library/busybox:1.36".into(),
            "busybox:1.36".into(),
        ),
        (
            "user/app:1".into(),
            "docker.io/user/app:1".into(),
            "user/app:1".into(),
        ),
        (
            format!("localhost:5000/x@{d}"),
            format!("localhost:5000/x@{d}"),
            format!("localhost:5000/x@{d}"),
        ),
        (
            "127.0.0.1:5000/a/b:tag".into(),
            "127.0.0.1:5000/a/b:tag".into(),
            "127.0.0.1:5000/a/b:tag".into(),
        ),
        (
            "docker.io/library/busybox".into(),
            "docker.io/library/busybox:latest".into(),
            "busybox:latest".into(),
        ),
        (
            "index.docker.io/library/ubuntu:22.04".into(),
            "docker.io/library/ubuntu:22.04".into(),
            "ubuntu:22.04".into(),
        ),
        (
            "docker.io/busybox".into(),
            "docker.io/library/busybox:latest".into(),
            "busybox:latest".into(),
        ),
        (
            "localhost/foo".into(),
            "localhost/foo:latest".into(),
            "localhost/foo:latest".into(),
        ),
        (
            "localhost".into(),
            "docker.io/library/localhost:latest".into(),
            "localhost:latest".into(),
        ),
        (
            "localhost:5000".into(),
            "docker.io/library/localhost:5000".into(),
            "localhost:5000".into(),
        ),
        (
            "quay.io/coreos/etcd:v3.5.0".into(),
            "quay.io/coreos/etcd:v3.5.0".into(),
            "quay.io/coreos/etcd:v3.5.0".into(),
        ),
        (
            "ghcr.io/a/b/c:1.0-rc_1".into(),
            "ghcr.io/a/b/c:1.0-rc_1".into(),
            "ghcr.io/a/b/c:1.0-rc_1".into(),
        ),
        (
            format!("busybox:1.36@{d}"),
            format!("docker.io/library/busybox:1.36@{d}"),
            format!("busybox:1.36@{d}"),
        ),
        (
            "[::1]:5000/img:t".into(),
            "[::1]:5000/img:t".into(),
            "[::1]:5000/img:t".into(),
        ),
        (
            "docker.io/library/foo/bar".into(),
            "docker.io/library/foo/bar:latest".into(),
            "library/foo/bar:latest".into(),
        ),
        (
            "a__b/c-d---e.f_g:X_y.z-1".into(),
            "docker.io/a__b/c-d---e.f_g:X_y.z-1".into(),
            "a__b/c-d---e.f_g:X_y.z-1".into(),
        ),
        (
            "Foo/bar".into(),
            "Foo/bar:latest".into(),
            "Foo/bar:latest".into(),
        ),
    ];
    for (input, full, familiar) in cases {
        let r = Reference::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), full, "full form of {input}");
        assert_eq!(r.familiar(), familiar, "familiar form of {input}");
        let again = Reference::parse(&r.to_string()).unwrap();
        assert_eq!(again, r, "normalised form of {input} re-parses to itself");
    }
}

#[test]
fn parts() {
    let r: Reference = "127.0.0.1:5000/a/b:tag".parse().unwrap();
    assert_eq!(r.domain(), "127.0.0.1:5000");
    assert_eq!(r.path(), "a/b");
    assert_eq!(r.tag(), Some("tag"));
    assert_eq!(r.digest(), None);
    assert_eq!(r.repository(), "127.0.0.1:5000/a/b");

    let r = Reference::parse(&format!("localhost:5000/x@sha256:{HEX}")).unwrap();
    assert_eq!(r.tag(), None, "a digest-only reference gets no default tag");
    assert_eq!(r.digest().map(|d| d.hex()), Some(HEX));
    assert_eq!(r.familiar_name(), "localhost:5000/x");

    let b = Reference::parse("busybox").unwrap();
    assert_eq!(
        b.with_tag("1.0").unwrap().to_string(),
        "docker.io/library/busybox:1.0"
    );
    let pinned = b.with_digest(r.digest().unwrap());
    assert_eq!(
        pinned.to_string(),
        format!("docker.io/library/busybox@sha256:{HEX}")
    );
}

#[test]
fn rejects_bad_input() {
    let long_tag = "t".repeat(129);
    let ok_tag = "t".repeat(128);
    assert!(Reference::parse(&format!("busybox:{ok_tag}")).is_ok());
    let long_name = format!("a/{}", "b".repeat(260));
    let bad = [
        ("", "empty"),
        ("Busybox", "lowercase"),
        ("user/App", "lowercase"),
        ("busybox@sha256:abc", "digest"),
        ("busybox@sha512:abc", "digest"),
        ("busybox@", "digest"),
        ("busybox:", "tag"),
        (&format!("busybox:{long_tag}"), "128"),
        ("busybox:-x", "tag"),
        ("a//b", "repository"),
        ("-a", "repository"),
        ("a-", "repository"),
        ("a..b", "repository"),
        ("a:b:c", "repository"),
        (":tag", "empty"),
        (HEX, "hexadecimal"),
        ("exa mple.com/a", "domain"),
        ("example.com:port/a", "domain"),
        ("-bad.com/a", "domain"),
        (&long_name, "255"),
    ];
    for (input, want) in bad {
        match Reference::parse(input) {
            Err(Error::InvalidReference { reason, .. }) => {
                assert!(
                    reason.contains(want),
                    "{input:?}: reason {reason:?} should mention {want:?}"
                )
            }
            other => panic!("{input:?} should be rejected, got {other:?}"),
        }
    }
}
