//! `docker cp` (and `berth cp`) against `berth daemon`: files and trees both ways with their
//! bytes and modes intact, running and stopped containers, volumes and tmpfs mounts, docker's
//! error texts, read-only rootfs, and hostile archives or container symlinks that try to
//! write outside the container's root.

mod engine;

use engine::{stderr, stdout, Daemon};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// ~1 MiB of bytes with every value in it (a simple LCG, so runs are repeatable).
fn binary_blob() -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..(1 << 20) + 12345)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A tree to copy: text, a binary file, modes, a nested directory, a symlink.
fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("sub/deep")).unwrap();
    std::fs::write(root.join("a.txt"), "alpha\n").unwrap();
    std::fs::set_permissions(root.join("a.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(root.join("bin.dat"), binary_blob()).unwrap();
    std::fs::write(root.join("sub/deep/run.sh"), "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(
        root.join("sub/deep/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(root.join("sub"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
    // Names and link targets too long for a tar header (PAX records carry them).
    let long = format!("sub/{}/{}", "d".repeat(90), "f".repeat(120));
    std::fs::create_dir_all(root.join(&long).parent().unwrap()).unwrap();
    std::fs::write(root.join(&long), "long\n").unwrap();
    std::os::unix::fs::symlink(format!("../{long}"), root.join("sub/longlink")).unwrap();
}

/// Two trees hold the same names, bytes, modes and symlinks.
fn assert_same_tree(a: &Path, b: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut other: Vec<_> = std::fs::read_dir(b)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    other.sort();
    assert_eq!(names, other, "{} vs {}", a.display(), b.display());
    for n in names {
        let (x, y) = (a.join(&n), b.join(&n));
        let (mx, my) = (
            std::fs::symlink_metadata(&x).unwrap(),
            std::fs::symlink_metadata(&y).unwrap(),
        );
        assert_eq!(mode(&x), mode(&y), "mode of {}", y.display());
        assert_eq!(mx.file_type(), my.file_type(), "type of {}", y.display());
        if mx.is_dir() {
            assert_same_tree(&x, &y);
        } else if mx.file_type().is_symlink() {
            assert_eq!(
                std::fs::read_link(&x).unwrap(),
                std::fs::read_link(&y).unwrap()
            );
        } else {
            assert!(
                std::fs::read(&x).unwrap() == std::fs::read(&y).unwrap(),
                "bytes of {} differ",
                y.display()
            );
        }
    }
}

/// docker with `input` on its stdin.
fn docker_with_stdin(d: &Daemon, args: &[&str], input: &[u8]) -> Output {
    let mut c = d
        .docker_cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let input = input.to_vec();
    let w = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = c.wait_with_output().unwrap();
    w.join().unwrap();
    out
}

/// A hand-made ustar archive: (name, type flag, link name, data), names as they are
/// (a tar library would refuse `..`).
fn raw_tar(entries: &[(&str, u8, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, typ, link, data) in entries {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let mode: &[u8] = if *typ == b'5' {
            b"0000755\0"
        } else {
            b"0000644\0"
        };
        h[100..108].copy_from_slice(mode);
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"14000000000\0");
        h[156] = *typ;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn berth(d: &Daemon, args: &[&str]) -> Output {
    Command::new(engine::berth_bin())
        .arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A running busybox container (with a /tmp, which the test image lacks).
fn sleeper(d: &Daemon, name: &str, extra: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", "mkdir -p /tmp; exec sleep 1000"]);
    d.ok(&args);
}

fn work(d: &Daemon, name: &str) -> PathBuf {
    let p = d.dir.path().join(name);
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn files_and_trees_round_trip_with_bytes_and_modes_intact() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    sleeper(&d, "box", &[]);
    let w = work(&d, "rt");
    let src = w.join("src");
    make_tree(&src);

    // Into the container: a directory into an existing directory keeps its name.
    d.ok(&["cp", src.to_str().unwrap(), "box:/tmp"]);
    assert_eq!(d.ok(&["exec", "box", "cat", "/tmp/src/a.txt"]), "alpha");
    assert_eq!(d.ok(&["exec", "box", "/tmp/src/sub/deep/run.sh"]), "ran");
    let sums = d.ok(&["exec", "box", "busybox", "md5sum", "/tmp/src/bin.dat"]);
    let local = Command::new("md5sum")
        .arg(src.join("bin.dat"))
        .output()
        .unwrap();
    assert_eq!(
        sums.split_whitespace().next(),
        stdout(&local).split_whitespace().next()
    );
    assert_eq!(
        d.ok(&[
            "exec",
            "box",
            "busybox",
            "stat",
            "-c",
            "%a",
            "/tmp/src/a.txt",
            "/tmp/src/sub"
        ]),
        "640\n750"
    );
    assert_eq!(
        d.ok(&["exec", "box", "busybox", "readlink", "/tmp/src/link"]),
        "a.txt"
    );

    // Out again: the whole tree, under a new name and into an existing directory.
    let back = w.join("back");
    d.ok(&["cp", "box:/tmp/src", back.to_str().unwrap()]);
    assert_same_tree(&src, &back);
    let into = work(&d, "rt/into");
    d.ok(&["cp", "box:/tmp/src", into.to_str().unwrap()]);
    assert_same_tree(&src, &into.join("src"));
    // `/.`: the contents only.
    let contents = work(&d, "rt/contents");
    d.ok(&["cp", "box:/tmp/src/.", contents.to_str().unwrap()]);
    assert_same_tree(&src, &contents);
    // A single binary file under a new name.
    let one = w.join("one.dat");
    d.ok(&["cp", "box:/tmp/src/bin.dat", one.to_str().unwrap()]);
    assert!(std::fs::read(&one).unwrap() == binary_blob());
    // A file into the container under a new name, and over an existing one.
    d.ok(&["cp", one.to_str().unwrap(), "box:/tmp/renamed.dat"]);
    std::fs::write(w.join("small"), "small\n").unwrap();
    d.ok(&[
        "cp",
        w.join("small").to_str().unwrap(),
        "box:/tmp/renamed.dat",
    ]);
    assert_eq!(d.ok(&["exec", "box", "cat", "/tmp/renamed.dat"]), "small");
    // Through a symlink in the container (docker follows the destination's link).
    d.ok(&[
        "exec",
        "box",
        "busybox",
        "ln",
        "-s",
        "/tmp/src/sub",
        "/tmp/sublink",
    ]);
    d.ok(&["cp", w.join("small").to_str().unwrap(), "box:/tmp/sublink"]);
    assert_eq!(d.ok(&["exec", "box", "cat", "/tmp/src/sub/small"]), "small");
    // A directory cannot replace a file.
    let out = d.docker(&["cp", src.to_str().unwrap(), "box:/tmp/renamed.dat"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot copy"), "{}", stderr(&out));

    // To and from stdout/stdin as a tar stream.
    let out = d.docker(&["cp", "box:/tmp/src/a.txt", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.len() >= 1024 && out.stdout.windows(6).any(|w| w == b"alpha\n"));
    let tar = raw_tar(&[("fromstdin.txt", b'0', "", b"via stdin\n")]);
    let out = docker_with_stdin(&d, &["cp", "-", "box:/tmp"], &tar);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        d.ok(&["exec", "box", "cat", "/tmp/fromstdin.txt"]),
        "via stdin"
    );
}

#[test]
fn archive_mode_owns_files_by_the_container_user() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    // -w makes /tmp (as root) although the process runs as nobody.
    sleeper(&d, "nob", &["-u", "nobody", "-w", "/tmp"]);
    let w = work(&d, "own");
    std::fs::write(w.join("f"), "x").unwrap();
    d.ok(&["cp", w.join("f").to_str().unwrap(), "nob:/tmp/plain"]);
    d.ok(&[
        "cp",
        "-a",
        w.join("f").to_str().unwrap(),
        "nob:/tmp/archived",
    ]);
    assert_eq!(
        d.ok(&[
            "exec",
            "nob",
            "busybox",
            "stat",
            "-c",
            "%u:%g",
            "/tmp/plain",
            "/tmp/archived"
        ]),
        "0:0\n65534:65534"
    );
}

#[test]
fn stopped_and_created_containers_are_copied_to_and_from() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let w = work(&d, "stopped");
    std::fs::write(w.join("hello.txt"), "hello from the host\n").unwrap();
    d.ok(&[
        "create",
        "--name",
        "later",
        "busybox",
        "cat",
        "/greet/hello.txt",
    ]);
    // A directory copied in as /greet (which does not exist yet) takes that name.
    std::fs::create_dir(w.join("greet")).unwrap();
    std::fs::copy(w.join("hello.txt"), w.join("greet/hello.txt")).unwrap();
    d.ok(&["cp", w.join("greet").to_str().unwrap(), "later:/greet"]);
    let out = d.ok(&["start", "-a", "later"]);
    assert_eq!(out, "hello from the host");
    // What an exited container wrote comes out.
    d.ok(&[
        "run",
        "--name",
        "wrote",
        "busybox",
        "sh",
        "-c",
        "echo made inside > /made.txt; mkdir -p /out/d; echo deep > /out/d/f",
    ]);
    let got = w.join("made.txt");
    d.ok(&["cp", "wrote:/made.txt", got.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "made inside\n");
    let tree = w.join("tree");
    d.ok(&["cp", "wrote:/out", tree.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(tree.join("d/f")).unwrap(), "deep\n");
    // Nothing stays mounted once the copies are done, and the container still starts.
    let mounts = std::fs::read_to_string(format!("/proc/{}/mountinfo", d.holder_pid())).unwrap();
    assert!(!mounts.lines().any(|l| l.contains("/cp ")), "{mounts}");
    d.ok(&["start", "-a", "later"]);
    d.ok(&["rm", "later", "wrote"]);
}

#[test]
fn volumes_and_tmpfs_of_a_running_container() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "vol",
        "-v",
        "cpvol:/data",
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "echo in the volume > /data/v.txt; sleep 1000",
    ]);
    let w = work(&d, "vol");
    let got = w.join("v.txt");
    assert!(engine::eventually(
        std::time::Duration::from_secs(5),
        || {
            d.docker(&["cp", "vol:/data/v.txt", got.to_str().unwrap()])
                .status
                .success()
        }
    ));
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "in the volume\n");
    std::fs::write(w.join("new.txt"), "new in volume\n").unwrap();
    d.ok(&["cp", w.join("new.txt").to_str().unwrap(), "vol:/data/"]);
    d.ok(&[
        "cp",
        w.join("new.txt").to_str().unwrap(),
        "vol:/scratch/t.txt",
    ]);
    assert_eq!(
        d.ok(&["exec", "vol", "cat", "/scratch/t.txt"]),
        "new in volume"
    );
    // The file is in the volume itself, seen by another container.
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-v",
            "cpvol:/data",
            "busybox",
            "cat",
            "/data/new.txt"
        ]),
        "new in volume"
    );
    // A stopped container's volume is served from the volume.
    d.ok(&["rm", "-f", "vol"]);
    d.ok(&[
        "create",
        "--name",
        "volstopped",
        "-v",
        "cpvol:/data",
        "busybox",
        "true",
    ]);
    let again = w.join("again.txt");
    d.ok(&["cp", "volstopped:/data/new.txt", again.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), "new in volume\n");
}

#[test]
fn missing_paths_and_bad_archives_get_docker_errors() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    sleeper(&d, "errs", &[]);
    let w = work(&d, "errs");
    let out = d.docker(&["cp", "errs:/no/such/file", w.join("x").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Could not find the file /no/such/file in container errs"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["cp", "nosuchbox:/etc/passwd", w.join("x").to_str().unwrap()]);
    assert!(
        stderr(&out).contains("No such container: nosuchbox"),
        "{}",
        stderr(&out)
    );
    // Garbage instead of a tar.
    let out = docker_with_stdin(&d, &["cp", "-", "errs:/tmp"], &[b'x'; 3000]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Error processing tar file"),
        "{}",
        stderr(&out)
    );
    // The daemon is still fine.
    assert_eq!(d.ok(&["exec", "errs", "echo", "alive"]), "alive");
}

#[test]
fn nothing_is_written_outside_the_container_root() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    sleeper(&d, "esc", &[]);
    let tag = format!("berth-cp-escape-{}", std::process::id());
    let host_paths = |name: &str| {
        vec![
            PathBuf::from("/").join(name),
            PathBuf::from("/tmp").join(name),
            d.dir.path().join(name),
            d.dir.path().join("data").join(name),
            d.dir.path().join("data/containers").join(name),
        ]
    };
    let nothing_on_host = |name: &str| {
        for p in host_paths(name) {
            assert!(!p.exists(), "{} was written on the host", p.display());
        }
    };

    // `..` in an entry name: refused, nothing written.
    let n1 = format!("{tag}-dots");
    let tar = raw_tar(&[(&format!("../../../../../../../../{n1}"), b'0', "", b"x")]);
    let out = docker_with_stdin(&d, &["cp", "-", "esc:/tmp"], &tar);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is outside of"), "{}", stderr(&out));
    nothing_on_host(&n1);
    let tar = raw_tar(&[(&format!("a/../../{n1}"), b'0', "", b"x")]);
    assert!(!docker_with_stdin(&d, &["cp", "-", "esc:/"], &tar)
        .status
        .success());
    nothing_on_host(&n1);

    // Symlinks in the container pointing at / and climbing with ../: followed inside it.
    d.ok(&["exec", "esc", "busybox", "ln", "-s", "/", "/tmp/up"]);
    d.ok(&[
        "exec",
        "esc",
        "busybox",
        "ln",
        "-s",
        "../../../../../../../..",
        "/tmp/rel",
    ]);
    let n2 = format!("{tag}-abs");
    let n3 = format!("{tag}-rel");
    let tar = raw_tar(&[
        (&format!("up/{n2}"), b'0', "", b"abs\n"),
        (&format!("rel/{n3}"), b'0', "", b"rel\n"),
    ]);
    let out = docker_with_stdin(&d, &["cp", "-", "esc:/tmp"], &tar);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        d.ok(&["exec", "esc", "cat", &format!("/{n2}"), &format!("/{n3}")]),
        "abs\nrel"
    );
    nothing_on_host(&n2);
    nothing_on_host(&n3);
    // The destination itself through such a link.
    let w = work(&d, "esc");
    let n4 = format!("{tag}-dest");
    std::fs::write(w.join(&n4), "dest\n").unwrap();
    d.ok(&["cp", w.join(&n4).to_str().unwrap(), "esc:/tmp/rel/"]);
    assert_eq!(d.ok(&["exec", "esc", "cat", &format!("/{n4}")]), "dest");
    std::fs::remove_file(w.join(&n4)).unwrap();
    nothing_on_host(&n4);

    // The archive brings its own escaping symlinks and writes through them.
    let n5 = format!("{tag}-own");
    let tar = raw_tar(&[
        ("s", b'2', "/", b""),
        ("r", b'2', "../../../../../../..", b""),
        (&format!("s/{n5}"), b'0', "", b"own\n"),
        (&format!("r/{n5}-2"), b'0', "", b"own2\n"),
    ]);
    let out = docker_with_stdin(&d, &["cp", "-", "esc:/tmp"], &tar);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        d.ok(&["exec", "esc", "cat", &format!("/{n5}"), &format!("/{n5}-2")]),
        "own\nown2"
    );
    nothing_on_host(&n5);
    nothing_on_host(&format!("{n5}-2"));
    // A hard link to a file outside: refused.
    let tar = raw_tar(&[(&format!("{tag}-hl"), b'1', "../../../../etc/passwd", b"")]);
    let out = docker_with_stdin(&d, &["cp", "-", "esc:/tmp"], &tar);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid hardlink"),
        "{}",
        stderr(&out)
    );

    // Reading through the links stays inside too: /tmp/up/etc/passwd is the container's.
    let got = w.join("passwd");
    d.ok(&["cp", "esc:/tmp/up/etc/passwd", got.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&got).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
    );
    // And a stopped container's symlinks as well.
    d.ok(&["stop", "-t", "0", "esc"]);
    let n6 = format!("{tag}-stopped");
    let tar = raw_tar(&[(&format!("tmp/up/{n6}"), b'0', "", b"stopped\n")]);
    let out = docker_with_stdin(&d, &["cp", "-", "esc:/tmp/rel"], &tar);
    assert!(out.status.success(), "{}", stderr(&out));
    nothing_on_host(&n6);
    d.ok(&["start", "esc"]);
    assert_eq!(d.ok(&["exec", "esc", "cat", &format!("/{n6}")]), "stopped");
}

#[test]
fn read_only_rootfs_is_refused_but_its_volumes_are_not() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    sleeper(&d, "ro", &["--read-only", "-v", "rovol:/data"]);
    let w = work(&d, "ro");
    std::fs::write(w.join("f"), "f\n").unwrap();
    let out = d.docker(&["cp", w.join("f").to_str().unwrap(), "ro:/etc/"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("container rootfs is marked read-only"),
        "{}",
        stderr(&out)
    );
    d.ok(&["cp", w.join("f").to_str().unwrap(), "ro:/data/"]);
    assert_eq!(d.ok(&["exec", "ro", "cat", "/data/f"]), "f");
    // Reading is fine.
    let got = w.join("hosts");
    d.ok(&["cp", "ro:/etc/passwd", got.to_str().unwrap()]);
    // A stopped read-only container is refused the same way.
    d.ok(&["stop", "-t", "0", "ro"]);
    let out = d.docker(&["cp", w.join("f").to_str().unwrap(), "ro:/etc/"]);
    assert!(
        stderr(&out).contains("container rootfs is marked read-only"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn berth_cp_works_both_ways() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    sleeper(&d, "bcp", &[]);
    let w = work(&d, "bcp");
    let src = w.join("src");
    make_tree(&src);
    let out = berth(&d, &["cp", src.to_str().unwrap(), "bcp:/tmp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(d.ok(&["exec", "bcp", "cat", "/tmp/src/a.txt"]), "alpha");
    for (from, to, sub) in [
        ("bcp:/tmp/src", w.join("back"), ""),
        ("bcp:/tmp/src", work(&d, "bcp/into"), "src"),
        ("bcp:/tmp/src/.", work(&d, "bcp/contents"), ""),
    ] {
        let out = berth(&d, &["cp", from, to.to_str().unwrap()]);
        assert!(out.status.success(), "{from}: {}", stderr(&out));
        assert_same_tree(&src, &to.join(sub));
    }
    let out = berth(&d, &["cp", "bcp:/nope", w.join("n").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Could not find the file /nope in container bcp"),
        "{}",
        stderr(&out)
    );
    // Ownership as copied: the daemon runs as root, so the uid is kept.
    let meta = std::fs::metadata(w.join("back/a.txt")).unwrap();
    assert_eq!(meta.uid(), 0);
}
