//! Snapshots keyed by chain id, and overlay mounts over them.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use berth_image::{chain_id, chain_ids, mount_overlay, unmount, Digest, Snapshots};
use common::{entries, gzip, Layer};

#[test]
fn chain_id_formula() {
    let d0 = Digest::of_bytes(b"layer0");
    let d1 = Digest::of_bytes(b"layer1");
    let d2 = Digest::of_bytes(b"layer2");
    let c1 = Digest::of_bytes(format!("sha256:{} sha256:{}", d0.hex(), d1.hex()).as_bytes());
    let c2 = Digest::of_bytes(format!("sha256:{} sha256:{}", c1.hex(), d2.hex()).as_bytes());
    assert_eq!(
        chain_ids(&[d0.clone(), d1.clone(), d2.clone()]),
        vec![d0.clone(), c1.clone(), c2]
    );
    assert_eq!(chain_id(None, &d0), d0);
    assert_eq!(chain_id(Some(&d0), &d1), c1);
    assert!(chain_ids(&[]).is_empty());
}

fn two_layers() -> (Vec<u8>, Vec<u8>) {
    let l0 = Layer::new()
        .file("keep", b"k")
        .file("gone", b"g")
        .dir("o")
        .file("o/old", b"old")
        .finish();
    let l1 = Layer::new()
        .file(".wh.gone", b"")
        .dir("o")
        .file("o/.wh..wh..opq", b"")
        .file("o/new", b"new")
        .finish();
    (l0, l1)
}

#[test]
fn apply_list_remove() {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let (l0, l1) = two_layers();
    let a0 = snaps.apply_layer(None, &gzip(&l0)[..], None).unwrap();
    assert_eq!(a0.diff_id, Digest::of_bytes(&l0));
    assert_eq!(a0.chain_id, a0.diff_id);
    assert!(!a0.reused);
    let a1 = snaps
        .apply_layer(Some(&a0.chain_id), &l1[..], None)
        .unwrap();
    let chain = chain_ids(&[a0.diff_id.clone(), a1.diff_id.clone()]);
    assert_eq!(a1.chain_id, chain[1]);
    assert_eq!(
        snaps.fs_path(&a1.chain_id),
        tmp.path()
            .join("snapshots")
            .join(a1.chain_id.hex())
            .join("fs")
    );
    assert_eq!(
        fs::read(snaps.fs_path(&a1.chain_id).join("o/new")).unwrap(),
        b"new"
    );
    assert_eq!(
        snaps.parent(&a1.chain_id).unwrap(),
        Some(a0.chain_id.clone())
    );
    assert_eq!(snaps.parent(&a0.chain_id).unwrap(), None);

    let mut want = chain.clone();
    want.sort();
    assert_eq!(snaps.list().unwrap(), want);

    let lower = snaps.lowerdir_chain(&chain);
    assert_eq!(
        lower,
        format!(
            "{}:{}",
            snaps.fs_path(&chain[1]).display(),
            snaps.fs_path(&chain[0]).display()
        ),
        "topmost first"
    );

    // Known diff_id and present snapshot: the layer is not read.
    let again = snaps
        .apply_layer(None, &b"not a tar"[..], Some(&a0.diff_id))
        .unwrap();
    assert!(again.reused);
    // Same content applied again without a hint: unpacked, then found present.
    let again = snaps.apply_layer(None, &l0[..], None).unwrap();
    assert!(again.reused);
    assert_eq!(again.chain_id, a0.chain_id);

    // Missing parent.
    assert!(snaps
        .apply_layer(Some(&Digest::of_bytes(b"none")), &l1[..], None)
        .is_err());

    assert!(snaps.remove(&a1.chain_id).unwrap());
    assert!(!snaps.remove(&a1.chain_id).unwrap());
    assert_eq!(snaps.list().unwrap(), vec![a0.chain_id.clone()]);
    assert_eq!(
        entries(&tmp.path().join("snapshots")),
        vec![a0.chain_id.hex().to_string()]
    );
}

#[test]
fn layers_with_known_diff_ids_unpack_in_any_order() {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let (l0, l1) = two_layers();
    let diffs = [Digest::of_bytes(&l0), Digest::of_bytes(&l1)];
    let chain = chain_ids(&diffs);
    // The top layer first, its parent not there yet: named by the chain id all the same.
    let a1 = snaps
        .apply_layer(Some(&chain[0]), &l1[..], Some(&diffs[1]))
        .unwrap();
    assert_eq!(a1.chain_id, chain[1]);
    assert!(!snaps.exists(&chain[0]));
    let a0 = snaps.apply_layer(None, &l0[..], Some(&diffs[0])).unwrap();
    assert_eq!(a0.chain_id, chain[0]);
    assert_eq!(snaps.parent(&chain[1]).unwrap(), Some(chain[0].clone()));
    // A lying diff id is still refused.
    let other = Snapshots::open(tmp.path().join("other")).unwrap();
    assert!(other
        .apply_layer(Some(&chain[0]), &l0[..], Some(&diffs[1]))
        .is_err());
    assert!(other.list().unwrap().is_empty());
}

#[test]
fn leftovers_of_a_crashed_unpack_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let (l0, _) = two_layers();
    let a0 = snaps.apply_layer(None, &l0[..], None).unwrap();
    let dir = tmp.path().join("snapshots");
    fs::create_dir_all(dir.join(".ingest-crashed/fs.tmp-x/etc")).unwrap();
    snaps.remove_leftovers().unwrap();
    assert_eq!(entries(&dir), vec![a0.chain_id.hex().to_string()]);
}

#[test]
fn failed_apply_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let (l0, _) = two_layers();
    let gz = gzip(&l0);
    assert!(snaps.apply_layer(None, &gz[..gz.len() - 10], None).is_err());
    let bad = Layer::new().file("x", b"1").file("../y", b"2").finish();
    assert!(snaps.apply_layer(None, &bad[..], None).is_err());
    assert!(
        entries(&tmp.path().join("snapshots")).is_empty(),
        "{:?}",
        entries(&tmp.path().join("snapshots"))
    );
}

fn mounted(target: &Path) -> bool {
    let info = fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
    let t = target.to_str().unwrap();
    info.lines().any(|l| l.split(' ').nth(4) == Some(t))
}

#[test]
fn overlay_whiteout_hides_lower_file() {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(tmp.path()).unwrap();
    let (l0, l1) = two_layers();
    let a0 = snaps.apply_layer(None, &l0[..], None).unwrap();
    let a1 = snaps
        .apply_layer(Some(&a0.chain_id), &l1[..], None)
        .unwrap();
    let lowers: Vec<PathBuf> = vec![snaps.fs_path(&a1.chain_id), snaps.fs_path(&a0.chain_id)];
    let (upper, work, merged) = (
        tmp.path().join("upper"),
        tmp.path().join("work"),
        tmp.path().join("merged"),
    );
    for d in [&upper, &work, &merged] {
        fs::create_dir(d).unwrap();
    }
    let m = merged.clone();
    // A private mount namespace for this thread only: nothing can leak to the host.
    let seen = std::thread::spawn(move || -> Result<Vec<(String, bool)>, String> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(|e| format!("unshare: {e}"))?;
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| format!("make-rprivate: {e}"))?;
        if let Err(e) = mount_overlay(&lowers, &upper, &work, &m) {
            return Err(format!("mount: {e}"));
        }
        let names = ["keep", "gone", "o/old", "o/new"];
        let out = names
            .iter()
            .map(|n| (n.to_string(), m.join(n).exists()))
            .collect();
        let inside = mounted(&m);
        unmount(&m).map_err(|e| format!("unmount: {e}"))?;
        if !inside || mounted(&m) {
            return Err(format!(
                "mountinfo: mounted={inside} before unmount, still there={}",
                mounted(&m)
            ));
        }
        Ok(out)
    })
    .join()
    .unwrap()
    .unwrap();
    let want: Vec<(String, bool)> = [
        ("keep", true),
        ("gone", false),
        ("o/old", false),
        ("o/new", true),
    ]
    .iter()
    .map(|(n, b)| (n.to_string(), *b))
    .collect();
    assert_eq!(seen, want);
    assert!(
        !mounted(&merged),
        "mount leaked out of the private namespace"
    );
    assert!(entries(&merged).is_empty());
}

#[test]
fn overlay_rejects_bad_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    assert!(mount_overlay(&[p.join("a,b")], p, p, p).is_err());
    assert!(mount_overlay(&Vec::<PathBuf>::new(), p, p, p).is_err());
    let long: Vec<PathBuf> = (0..100).map(|i| p.join(format!("{:060}", i))).collect();
    assert!(
        mount_overlay(&long, p, p, p).is_err(),
        "options over one page"
    );
}
