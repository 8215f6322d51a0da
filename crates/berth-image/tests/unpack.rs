//! Layer unpacking: path safety, whiteouts, compression, metadata, failure cleanup.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_image::{unpack_layer, Compression, Digest, Error, OPAQUE_XATTR};
use common::{entries, gzip, zstd, Layer, MTIME};
use tar::EntryType;

/// Unpacks `layer` into `<tmp>/out`; on error asserts nothing was left in `<tmp>`.
fn unpack(layer: &[u8]) -> (tempfile::TempDir, Result<berth_image::Unpacked, Error>) {
    let tmp = tempfile::tempdir().unwrap();
    let res = unpack_layer(layer, &tmp.path().join("out"), None);
    if res.is_err() {
        assert!(
            entries(tmp.path()).is_empty(),
            "left behind: {:?}",
            entries(tmp.path())
        );
    }
    (tmp, res)
}

fn expect_unsafe(layer: &[u8], entry: &str) {
    let (_tmp, res) = unpack(layer);
    match res {
        Err(Error::UnsafeEntry { entry: e, .. }) => assert_eq!(e, entry),
        other => panic!("expected an unsafe-entry error for {entry}, got {other:?}"),
    }
}

#[test]
fn dotdot_rejected() {
    let escape = format!("berth-unpack-escape-{}", std::process::id());
    let layer = Layer::new()
        .file("ok", b"x")
        .file(&format!("../{escape}"), b"evil")
        .finish();
    expect_unsafe(&layer, &format!("../{escape}"));
    assert!(!std::env::temp_dir().join(&escape).exists());

    let layer = Layer::new().file("a/../../b", b"evil").finish();
    expect_unsafe(&layer, "a/../../b");
}

#[test]
fn absolute_escape_rejected_and_plain_absolute_lands_inside() {
    let layer = Layer::new().file("/abs/../../x", b"evil").finish();
    expect_unsafe(&layer, "/abs/../../x");

    let layer = Layer::new()
        .file("/etc/berth-test-file", b"inside")
        .finish();
    let (tmp, res) = unpack(&layer);
    res.unwrap();
    assert_eq!(
        fs::read(tmp.path().join("out/etc/berth-test-file")).unwrap(),
        b"inside"
    );
    assert!(!Path::new("/etc/berth-test-file").exists());
}

#[test]
fn symlinked_parent_never_followed_outside() {
    let before = fs::read("/etc/passwd").unwrap();
    let escape = format!("berth-unpack-rel-{}", std::process::id());
    let layer = Layer::new()
        .symlink("a", "/etc")
        .file("a/passwd", b"pwned")
        .symlink("b", "../../../../../../tmp")
        .file(&format!("b/{escape}"), b"pwned")
        .finish();
    let (tmp, res) = unpack(&layer);
    res.unwrap();
    assert_eq!(
        fs::read("/etc/passwd").unwrap(),
        before,
        "host /etc/passwd changed"
    );
    assert!(
        !Path::new("/tmp").join(&escape).exists(),
        "wrote through a relative symlink"
    );
    let out = tmp.path().join("out");
    // The symlinks stay symlinks; the files landed where the links point inside the root.
    assert_eq!(fs::read_link(out.join("a")).unwrap(), Path::new("/etc"));
    assert!(fs::symlink_metadata(out.join("b"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(out.join("etc/passwd")).unwrap(), b"pwned");
    assert_eq!(fs::read(out.join("tmp").join(&escape)).unwrap(), b"pwned");
}

#[test]
fn entry_replacing_a_symlink_does_not_follow_it() {
    let before = fs::read("/etc/passwd").unwrap();
    let layer = Layer::new()
        .symlink("p", "/etc/passwd")
        .file("p", b"pwned")
        .finish();
    let (tmp, res) = unpack(&layer);
    res.unwrap();
    assert_eq!(fs::read("/etc/passwd").unwrap(), before);
    let p = tmp.path().join("out/p");
    assert!(fs::symlink_metadata(&p).unwrap().is_file());
    assert_eq!(fs::read(p).unwrap(), b"pwned");
}

#[test]
fn a_directory_later_replaced_by_a_symlink_never_gets_metadata_through_it() {
    // A directory's metadata is applied at the end (its files change its mtime). If a later
    // entry replaced it, or a directory above it, by a symlink to a host path, that metadata
    // must not reach the host directory.
    use std::os::unix::fs::PermissionsExt;
    let host = tempfile::tempdir().unwrap();
    fs::set_permissions(host.path(), fs::Permissions::from_mode(0o700)).unwrap();
    fs::create_dir(host.path().join("sub")).unwrap();
    fs::set_permissions(host.path().join("sub"), fs::Permissions::from_mode(0o700)).unwrap();
    let target = host.path().to_str().unwrap();
    let layer = Layer::new()
        .dir("x")
        .symlink("x", target)
        .dir("a")
        .dir("a/sub")
        .symlink("a", target)
        .finish();
    let (tmp, res) = unpack(&layer);
    res.unwrap();
    for dir in [host.path().to_path_buf(), host.path().join("sub")] {
        let m = fs::metadata(&dir).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o700, "{} changed", dir.display());
        assert_ne!(
            m.mtime(),
            MTIME as i64,
            "{} got the layer's mtime",
            dir.display()
        );
    }
    let out = tmp.path().join("out");
    assert_eq!(fs::read_link(out.join("x")).unwrap(), host.path());
    assert_eq!(fs::read_link(out.join("a")).unwrap(), host.path());
}

#[test]
fn hardlinks() {
    let layer = Layer::new().hardlink("l", "../../etc/shadow").finish();
    expect_unsafe(&layer, "l");
    let layer = Layer::new().hardlink("l", "/etc/shadow").finish();
    expect_unsafe(&layer, "l");
    let layer = Layer::new()
        .symlink("s", "/etc")
        .hardlink("l", "s/shadow")
        .finish();
    expect_unsafe(&layer, "l");

    let layer = Layer::new()
        .file("f", b"data")
        .hardlink("g", "f")
        .hardlink("d/h", "/f")
        .finish();
    let (tmp, res) = unpack(&layer);
    res.unwrap();
    let out = tmp.path().join("out");
    let ino = fs::metadata(out.join("f")).unwrap().ino();
    assert_eq!(fs::metadata(out.join("g")).unwrap().ino(), ino);
    assert_eq!(fs::metadata(out.join("d/h")).unwrap().ino(), ino);
}

fn big_layer() -> Vec<u8> {
    let data: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    Layer::new()
        .dir("d")
        .file("d/big", &data)
        .file("small", b"s")
        .finish()
}

#[test]
fn truncated_gzip_errors_and_leaves_nothing() {
    let gz = gzip(&big_layer());
    for cut in [gz.len() / 2, gz.len() - 4, 10] {
        let (_tmp, res) = unpack(&gz[..cut]);
        assert!(res.is_err(), "truncated at {cut} of {} accepted", gz.len());
    }
    let mut corrupt = gz.clone();
    corrupt[gz.len() / 2] ^= 0xff;
    let (_tmp, res) = unpack(&corrupt);
    assert!(res.is_err(), "corrupt gzip accepted");
    let z = zstd(&big_layer());
    let (_tmp, res) = unpack(&z[..z.len() / 2]);
    assert!(res.is_err(), "truncated zstd accepted");
}

#[test]
fn same_diff_id_for_every_compression() {
    let plain = big_layer();
    let want = Digest::of_bytes(&plain);
    for (data, kind) in [
        (plain.clone(), Compression::None),
        (gzip(&plain), Compression::Gzip),
        (zstd(&plain), Compression::Zstd),
    ] {
        let (tmp, res) = unpack(&data);
        let out = res.unwrap();
        assert_eq!(out.compression, kind);
        assert_eq!(out.diff_id, want, "{kind:?}");
        assert_eq!(out.size, plain.len() as u64);
        assert_eq!(
            fs::metadata(tmp.path().join("out/d/big")).unwrap().len(),
            400_000
        );
        assert_eq!(entries(tmp.path()), vec!["out"], "temporary directory left");
    }
}

#[test]
fn wrong_expected_diff_id_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let res = unpack_layer(
        &big_layer()[..],
        &tmp.path().join("out"),
        Some(&Digest::of_bytes(b"no")),
    );
    assert!(matches!(res, Err(Error::DigestMismatch { .. })), "{res:?}");
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn whiteouts_and_opaque_dirs() {
    let layer = Layer::new()
        .dir("d")
        .file("d/.wh.gone", b"")
        .dir("o")
        .file("o/.wh..wh..opq", b"")
        .file("o/new", b"n")
        .file(".wh.top", b"")
        .finish();
    let (tmp, res) = unpack(&layer);
    res.unwrap();
    let out = tmp.path().join("out");
    for wh in ["d/gone", "top"] {
        let m = fs::symlink_metadata(out.join(wh)).unwrap();
        assert!(m.file_type().is_char_device(), "{wh} is not a char device");
        assert_eq!(m.rdev(), 0, "{wh} is not 0:0");
    }
    assert!(!out.join("d/.wh.gone").exists());
    assert!(!out.join("o/.wh..wh..opq").exists());
    let opaque = xattr::get(out.join("o"), OPAQUE_XATTR).unwrap();
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert_eq!(xattr::get(out.join("d"), OPAQUE_XATTR).unwrap(), None);
}

#[test]
fn devices_skipped_with_warning_fifo_kept() {
    let layer = Layer::new()
        .device("null", EntryType::Char, 1, 3)
        .device("sda", EntryType::Block, 8, 0)
        .device("wh", EntryType::Char, 0, 0)
        .device("fifo", EntryType::Fifo, 0, 0)
        .finish();
    let (tmp, res) = unpack(&layer);
    let out = res.unwrap();
    let root = tmp.path().join("out");
    assert!(!root.join("null").exists() && !root.join("sda").exists());
    assert_eq!(out.warnings.len(), 2, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("null"));
    assert!(fs::symlink_metadata(root.join("wh"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(fs::symlink_metadata(root.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn metadata_preserved() {
    let mut l = Layer::new();
    let mut h = Layer::header("bin/", EntryType::Directory, 0, 0o700);
    h.set_uid(10);
    h.set_gid(20);
    l.raw(h, &[]);
    let mut h = Layer::header("bin/su", EntryType::Regular, 2, 0o4755);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(1_500_000_000);
    l.pax(&[
        ("SCHILY.xattr.user.berth", b"v1"),
        ("mtime", b"1500000000.25"),
        ("uid", b"3000000"),
    ]);
    l.raw(h, b"#!");
    let mut h = Layer::header("bin/sh", EntryType::Symlink, 0, 0o777);
    h.set_uid(7);
    h.set_gid(8);
    h.as_old_mut().linkname[..2].copy_from_slice(b"su");
    l.raw(h, &[]);
    let (tmp, res) = unpack(&l.finish());
    res.unwrap();
    let root = tmp.path().join("out");
    assert_eq!(
        fs::metadata(&root).unwrap().mode() & 0o7777,
        0o755,
        "root defaults to 0755"
    );
    let m = fs::metadata(root.join("bin/su")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o4755, "setuid kept after chown");
    assert_eq!(
        (m.uid(), m.gid()),
        (3_000_000, 5678),
        "pax uid overrides header"
    );
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_500_000_000, 250_000_000));
    assert_eq!(
        xattr::get(root.join("bin/su"), "user.berth")
            .unwrap()
            .as_deref(),
        Some(&b"v1"[..])
    );
    let d = fs::metadata(root.join("bin")).unwrap();
    assert_eq!((d.mode() & 0o7777, d.uid(), d.gid()), (0o700, 10, 20));
    assert_eq!(
        d.mtime(),
        MTIME as i64,
        "dir mtime applied after its children"
    );
    let s = fs::symlink_metadata(root.join("bin/sh")).unwrap();
    assert_eq!((s.uid(), s.gid()), (7, 8));
    assert_eq!(fs::read_link(root.join("bin/sh")).unwrap(), Path::new("su"));
}

#[test]
fn later_entries_replace_earlier_ones() {
    let layer = Layer::new()
        .file("x", b"file")
        .dir("x")
        .file("x/in", b"1")
        .dir("x")
        .symlink("y", "x")
        .file("y", b"now a file")
        .finish();
    let (tmp, res) = unpack(&layer);
    res.unwrap();
    let root = tmp.path().join("out");
    assert_eq!(
        fs::read(root.join("x/in")).unwrap(),
        b"1",
        "re-listing a dir keeps its contents"
    );
    assert_eq!(fs::read(root.join("y")).unwrap(), b"now a file");
}

#[test]
fn a_path_that_now_resolves_elsewhere_is_resolved_again() {
    // Files of one directory are created relative to it, held open between entries. Here
    // `l` resolves through `x/z/..` to `x`; then `x/z` becomes a symlink to `/y`, so `l`
    // now resolves to the root (`/y/..`, taken inside the root). Entries under `l` after
    // that must land where the path leads now, not in the directory held from before.
    let layer = Layer::new()
        .dir("x")
        .dir("x/z")
        .symlink("l", "x/z/..")
        .file("l/before", b"1")
        .symlink("l/z", "/y")
        .file("l/after", b"2")
        .finish();
    let (tmp, res) = unpack(&layer);
    res.unwrap();
    let root = tmp.path().join("out");
    assert_eq!(fs::read(root.join("x/before")).unwrap(), b"1");
    assert_eq!(fs::read_link(root.join("x/z")).unwrap(), Path::new("/y"));
    assert_eq!(fs::read(root.join("after")).unwrap(), b"2");
    assert!(
        !root.join("x/after").exists(),
        "written into the old resolution"
    );
    // A symlink replaced by a directory: what follows goes into the directory.
    let layer = Layer::new()
        .dir("other")
        .symlink("d", "other")
        .file("d/a", b"a")
        .dir("d")
        .file("d/b", b"b")
        .finish();
    let (tmp, res) = unpack(&layer);
    res.unwrap();
    let root = tmp.path().join("out");
    assert!(fs::symlink_metadata(root.join("d")).unwrap().is_dir());
    assert_eq!(fs::read(root.join("d/b")).unwrap(), b"b");
    assert_eq!(fs::read(root.join("other/a")).unwrap(), b"a");
    assert!(
        !root.join("other/b").exists(),
        "d/b went through the old symlink"
    );
}

#[test]
fn root_entry_sets_root_metadata() {
    let mut l = Layer::new();
    let mut h = Layer::header("./", EntryType::Directory, 0, 0o750);
    h.set_uid(42);
    l.raw(h, &[]).file("./f", b"x");
    let (tmp, res) = unpack(&l.finish());
    res.unwrap();
    let m = fs::metadata(tmp.path().join("out")).unwrap();
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.mtime()),
        (0o750, 42, MTIME as i64)
    );
}

#[test]
fn destination_must_not_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = Layer::new().file("f", b"x").finish();
    let res = unpack_layer(&layer[..], tmp.path(), None);
    assert!(res.is_err());
}
