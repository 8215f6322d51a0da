//! Images through the engine against a real registry: Debian's `docker-registry` runs on
//! 127.0.0.1 inside the daemon's network namespace, and the real docker CLI and the berth
//! CLI push, pull (by tag and by digest), log in and out (htpasswd). Then interop both
//! ways with the real tools where they are installed: dockerd (Debian's docker.io, started
//! inside the same namespaces with its own data and exec roots), skopeo and podman.
//! Each tool that is missing is skipped with a note; everything runs in the test's
//! namespaces and temporary directory, and goes with them.

mod engine;

use engine::{stderr, stdout, Daemon};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP: {tool} is not installed; its interop checks are skipped");
    }
    ok
}

/// Runs `f` on a thread that has joined the network namespace of process `pid`.
fn in_netns<T: Send>(pid: u32, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
            // SAFETY: setns(2) on an fd we own; it changes only this thread's netns.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap()
    })
}

/// A plain HTTP/1.0 GET inside the daemon's netns: (status, headers, body).
fn http_get(d: &Daemon, port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let raw = in_netns(d.holder_pid(), || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        out
    });
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, raw[split + 4..].to_vec())
}

/// A `docker-registry` on 127.0.0.1 inside the daemon's namespaces (the daemon reaches
/// it there as a registry on loopback, plain HTTP), killed on drop.
struct Registry {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Registry {
    fn start(d: &Daemon, name: &str, htpasswd: Option<(&str, &str)>) -> Option<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            eprintln!("SKIP: {REGISTRY_BIN} missing (apt-get install docker-registry)");
            return None;
        }
        let dir = d.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        // A free port in the daemon's netns.
        let port = in_netns(d.holder_pid(), || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let mut auth = String::new();
        if let Some((user, pass)) = htpasswd {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd (apt-get install apache2-utils)");
            assert!(out.status.success(), "htpasswd: {}", stderr(&out));
            let file = dir.join("htpasswd");
            std::fs::write(&file, out.stdout).unwrap();
            auth = format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                file.display()
            );
        }
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: berth-test\n{auth}",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = d
            .ns_cmd(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let reg = Registry { child, port, dir };
        let end = Instant::now() + Duration::from_secs(20);
        while !in_netns(d.holder_pid(), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        }) {
            assert!(
                Instant::now() < end,
                "registry did not start: {}",
                reg.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(reg)
    }

    fn domain(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The berth CLI against the test daemon, with `home` as its HOME (credentials file).
fn berth_cmd(d: &Daemon, home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(engine::berth_bin());
    c.arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .env("HOME", home)
        .args(args);
    c
}

fn berth(d: &Daemon, home: &Path, args: &[&str]) -> Output {
    berth_cmd(d, home, args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn berth_ok(d: &Daemon, home: &Path, args: &[&str]) -> String {
    let o = berth(d, home, args);
    assert!(
        o.status.success(),
        "berth {args:?} failed ({:?}): {}{}\ndaemon log:\n{}",
        o.status.code(),
        stdout(&o),
        stderr(&o),
        d.log()
    );
    stdout(&o)
}

/// Runs `c` with `input` on its stdin (`--password-stdin`).
fn with_stdin(c: &mut Command, input: &[u8]) -> Output {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn fails_with(o: &Output, want: &str) {
    assert!(
        !o.status.success(),
        "expected a failure, got: {}",
        stdout(o)
    );
    let all = format!("{}{}", stdout(o), stderr(o));
    assert!(all.contains(want), "error should say {want:?}, got: {all}");
}

/// The `sha256:...` after `digest: ` in push output.
fn pushed_digest(out: &str) -> String {
    let at = out
        .find("digest: sha256:")
        .unwrap_or_else(|| panic!("no digest in push output: {out}"));
    out[at + "digest: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn image_id(d: &Daemon, name: &str) -> String {
    d.ok(&["image", "inspect", "-f", "{{.Id}}", name])
}

/// Removes every image the daemon has (so a pull must fetch everything).
/// The complete layer snapshots in the daemon's store.
fn snapshots(d: &Daemon) -> Vec<String> {
    let dir = d.dir.path().join("data/image/snapshots/snapshots");
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("fs").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn rmi_all(d: &Daemon) {
    let ids = d.ok(&["images", "-q", "--no-trunc"]);
    let mut ids: Vec<&str> = ids.lines().collect();
    ids.sort_unstable();
    ids.dedup();
    if !ids.is_empty() {
        let mut args = vec!["rmi", "-f"];
        args.extend(ids);
        d.ok(&args);
    }
    assert_eq!(d.ok(&["images", "-q"]), "", "images left after rmi");
}

fn manifest_accept() -> &'static str {
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
}

#[test]
fn push_and_pull_by_tag_and_by_digest_with_docker_and_berth_clis() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let Some(reg) = Registry::start(&d, "registry", None) else {
        return;
    };
    let home = d.dir.path().join("home");
    let name = format!("{}/test/bb:1", reg.domain());
    let repo = format!("{}/test/bb", reg.domain());
    let bb_id = image_id(&d, "busybox");

    d.ok(&["tag", "busybox", &name]);
    let out = d.ok(&["push", &name]);
    assert!(
        out.contains(&format!("The push refers to repository [{repo}]")),
        "{out}"
    );
    let digest = pushed_digest(&out);
    // docker prints the manifest's size; it is what the registry serves under that digest.
    let (status, head, manifest) = http_get(
        &d,
        reg.port,
        "/v2/test/bb/manifests/1",
        &[("Accept", manifest_accept())],
    );
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("docker-content-digest: {digest}")),
        "registry's digest differs from the one push printed ({digest}): {head}"
    );
    assert!(
        out.contains(&format!("size: {}", manifest.len())),
        "push should print the manifest size {}: {out}",
        manifest.len()
    );
    // The manifest names the image's config: the registry has what berth has.
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m["config"]["digest"].as_str(), Some(bb_id.as_str()));
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &name]),
        format!("[\"{repo}@{digest}\"]")
    );

    // A pull into an empty daemon fetches every blob; the container runs.
    rmi_all(&d);
    let out = d.ok(&["pull", &name]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(out.contains("Download complete"), "{out}");
    assert_eq!(image_id(&d, &name), bb_id);
    // The layers are unpacked in the background right after the pull, before any run.
    let layers = d.ok(&["image", "inspect", "-f", "{{len .RootFS.Layers}}", &name]);
    let layers: usize = layers.parse().unwrap();
    let t0 = std::time::Instant::now();
    while snapshots(&d).len() < layers && t0.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(snapshots(&d).len(), layers, "unpacked after the pull");
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            &name,
            "echo",
            "pulled by tag"
        ]),
        "pulled by tag"
    );
    let listed = d.ok(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Tag}} {{.Digest}}",
    ]);
    assert!(
        listed.contains(&format!("{repo} 1 {digest}")),
        "images --digests: {listed}"
    );

    // By digest, into an empty daemon again: no tag, RepoDigests names it.
    rmi_all(&d);
    assert_eq!(snapshots(&d), Vec::<String>::new(), "rmi left snapshots");
    let by_digest = format!("{repo}@{digest}");
    let out = d.ok(&["pull", &by_digest]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(
        d.ok(&[
            "image",
            "inspect",
            "-f",
            "{{json .RepoTags}} {{json .RepoDigests}}",
            &by_digest
        ]),
        format!("[] [\"{by_digest}\"]")
    );
    assert_eq!(image_id(&d, &by_digest), bb_id);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            &by_digest,
            "echo",
            "pulled by digest"
        ]),
        "pulled by digest"
    );

    // The berth CLI: pull by tag and by digest too.
    rmi_all(&d);
    let out = berth_ok(&d, &home, &["pull", &name]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    // An rmi right after a pull waits for the background unpack: no snapshot is left.
    rmi_all(&d);
    assert_eq!(snapshots(&d), Vec::<String>::new(), "rmi left snapshots");
    berth_ok(&d, &home, &["pull", &name]);
    let out = berth_ok(&d, &home, &["pull", &by_digest]);
    assert!(out.contains(&by_digest), "{out}");
    assert_eq!(
        berth_ok(
            &d,
            &home,
            &["run", "--rm", "--network", "none", &by_digest, "echo", "ok"]
        )
        .trim(),
        "ok"
    );

    // Clear errors: an unknown tag, an unknown digest, an unknown repository.
    let o = d.docker(&["pull", &format!("{repo}:nope")]);
    fails_with(&o, "manifest unknown");
    let missing = format!("{repo}@sha256:{}", "0".repeat(64));
    fails_with(&d.docker(&["pull", &missing]), "manifest unknown");
    let o = berth(&d, &home, &["pull", &format!("{}/no/such:1", reg.domain())]);
    fails_with(&o, "404");
    // Nothing half-pulled got a name.
    let names = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        !names.contains("nope") && !names.contains("no/such"),
        "{names}"
    );
}

/// Runs the berth CLI on a 200-column pseudo-terminal (`script`); what it printed there.
fn berth_on_terminal(d: &Daemon, home: &Path, args: &[&str]) -> String {
    let line = format!(
        "stty cols 200 rows 50; exec {} -H unix://{} {}",
        engine::berth_bin().display(),
        d.sock.display(),
        args.join(" ")
    );
    let o = Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .env("HOME", home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "berth {args:?} on a terminal: {out}{}",
        stderr(&o)
    );
    out
}

#[test]
fn progress_bars_on_a_terminal_and_plain_lines_otherwise() {
    if !engine::usable() || !have("script") {
        return;
    }
    let d = Daemon::start();
    let Some(reg) = Registry::start(&d, "registry", None) else {
        return;
    };
    let home = d.dir.path().join("home");
    let archive = d.dir.path().join("bb.tar");
    berth_ok(
        &d,
        &home,
        &["save", "-o", archive.to_str().unwrap(), "busybox"],
    );
    let name = format!("{}/test/bars:1", reg.domain());
    d.ok(&["tag", "busybox", &name]);
    // A bar drawn in place: erase the line, `[===>   ]`, and the byte counts.
    let drawn = |out: &str, verb: &str| {
        assert!(out.contains("\x1b[2K\r"), "no line redrawn: {out:?}");
        // Part of the way: at least one `=` drawn before the end.
        assert!(
            out.contains(&format!("{verb} [=")),
            "no {verb} bar: {out:?}"
        );
    };
    let out = berth_on_terminal(&d, &home, &["push", &name]);
    drawn(&out, "Pushing");
    assert!(out.contains("Pushed"), "{out:?}");
    rmi_all(&d);
    let out = berth_on_terminal(&d, &home, &["pull", &name]);
    drawn(&out, "Downloading");
    assert!(out.contains("Download complete"), "{out:?}");
    rmi_all(&d);
    let out = berth_on_terminal(&d, &home, &["load", "-i", archive.to_str().unwrap()]);
    drawn(&out, "Loading layer");
    let full = format!("Loading layer [{}>]", "=".repeat(50));
    assert!(out.contains(&full), "no full bar at the end: {out:?}");
    assert!(out.contains("Loaded image: busybox:latest"), "{out:?}");
    // Not a terminal: plain lines, no bars, no escapes; the docker CLI alike.
    rmi_all(&d);
    for out in [
        berth_ok(&d, &home, &["load", "-i", archive.to_str().unwrap()]),
        berth_ok(&d, &home, &["pull", &name]),
        d.ok(&["load", "-i", archive.to_str().unwrap()]),
        d.ok(&["pull", &name]),
    ] {
        assert!(!out.contains('\x1b') && !out.contains("[="), "{out:?}");
    }
    let out = d.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: busybox:latest");
}

#[test]
fn rmi_of_a_tag_keeps_other_names_and_forced_rmi_keeps_what_a_container_uses() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let Some(reg) = Registry::start(&d, "registry", None) else {
        return;
    };
    let repo = format!("{}/rmi/a", reg.domain());
    d.ok(&["tag", "busybox", &format!("{repo}:1")]);
    d.ok(&["push", &format!("{repo}:1")]);
    rmi_all(&d);
    d.ok(&["pull", &format!("{repo}:1")]);
    d.ok(&["tag", &format!("{repo}:1"), &format!("{repo}:2")]);
    d.ok(&["tag", &format!("{repo}:1"), "other/b:1"]);
    let digests = |name: &str| d.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", name]);
    assert!(digests("other/b:1").contains(&format!("{repo}@sha256:")));
    // One of two tags of the repository: only that tag goes.
    assert_eq!(
        d.ok(&["rmi", &format!("{repo}:1")]),
        format!("Untagged: {repo}:1")
    );
    assert!(digests("other/b:1").contains(&format!("{repo}@sha256:")));
    // Its last tag: the repository's digest name goes with it (docker does so); the image
    // stays under its other name.
    let out = d.ok(&["rmi", &format!("{repo}:2")]);
    assert!(out.contains(&format!("Untagged: {repo}:2")), "{out}");
    assert!(out.contains(&format!("Untagged: {repo}@sha256:")), "{out}");
    assert!(!out.contains("Deleted"), "{out}");
    assert_eq!(digests("other/b:1"), "[]");

    // Forced away while a (stopped) container uses it: untagged, kept as <none>, still runs.
    d.ok(&[
        "create",
        "--name",
        "user",
        "--network",
        "none",
        "other/b:1",
        "echo",
        "still here",
    ]);
    fails_with(&d.docker(&["rmi", "other/b:1"]), "container");
    assert_eq!(d.ok(&["rmi", "-f", "other/b:1"]), "Untagged: other/b:1");
    assert_eq!(
        d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "<none>:<none>"
    );
    assert_eq!(d.ok(&["start", "-a", "user"]), "still here");
    // Its layers are unpacked by now (the pull's background unpack may have still been at it
    // before this first start).
    let snaps = snapshots(&d);
    d.ok(&["image", "prune", "-f"]);
    assert_eq!(
        d.ok(&["start", "-a", "user"]),
        "still here",
        "pruned while in use"
    );
    assert_eq!(snapshots(&d), snaps);
    // Once the container is gone, prune takes it.
    d.ok(&["rm", "user"]);
    let out = d.ok(&["image", "prune", "-f"]);
    assert!(out.contains("deleted: sha256:"), "{out}");
    assert_eq!(d.ok(&["images", "-q"]), "");
    assert_eq!(snapshots(&d), Vec::<String>::new());
}

#[test]
fn login_logout_push_pull_with_htpasswd_auth() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let Some(reg) = Registry::start(&d, "registry", Some(("alice", "s3cret"))) else {
        return;
    };
    let dom = reg.domain();
    let home = d.dir.path().join("home");
    let creds = home.join(".berth/config.json");

    // --- the berth CLI -------------------------------------------------------------------
    let name = format!("{dom}/auth/bb:1");
    berth_ok(&d, &home, &["tag", "busybox", &name]);
    fails_with(
        &berth(&d, &home, &["push", &name]),
        "authentication required",
    );
    let o = berth(&d, &home, &["login", "-u", "alice", "-p", "wrong", &dom]);
    fails_with(
        &o,
        &format!("login attempt to http://{dom}/v2/ failed with status: 401 Unauthorized"),
    );
    assert!(
        !std::fs::read_to_string(&creds)
            .unwrap_or_default()
            .contains(&dom),
        "a rejected login stored credentials"
    );
    let mut c = berth_cmd(
        &d,
        &home,
        &["login", "-u", "alice", "--password-stdin", &dom],
    );
    let o = with_stdin(&mut c, b"s3cret\n");
    assert!(o.status.success(), "login: {}", stderr(&o));
    assert!(stdout(&o).contains("Login Succeeded"), "{}", stdout(&o));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&creds), 0o600, "credentials file mode");
    assert_eq!(mode(creds.parent().unwrap()), 0o700, "credentials dir mode");
    let cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    assert_eq!(
        cfg["auths"][&dom]["auth"].as_str(),
        Some("YWxpY2U6czNjcmV0"), // base64("alice:s3cret")
        "{cfg}"
    );

    let out = berth_ok(&d, &home, &["push", &name]);
    let digest = pushed_digest(&out);
    rmi_all(&d);
    let out = berth_ok(&d, &home, &["pull", &name]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    // An rmi right after a pull waits for the background unpack: no snapshot is left.
    rmi_all(&d);
    assert_eq!(snapshots(&d), Vec::<String>::new(), "rmi left snapshots");
    berth_ok(&d, &home, &["pull", &name]);
    assert_eq!(
        berth_ok(
            &d,
            &home,
            &["run", "--rm", "--network", "none", &name, "echo", "authed"]
        )
        .trim(),
        "authed"
    );

    let out = berth_ok(&d, &home, &["logout", &dom]);
    assert!(
        out.contains(&format!("Removing login credentials for {dom}")),
        "{out}"
    );
    assert_eq!(mode(&creds), 0o600, "credentials file mode after logout");
    assert!(!std::fs::read_to_string(&creds).unwrap().contains(&dom));
    rmi_all(&d);
    fails_with(
        &berth(&d, &home, &["pull", &name]),
        "authentication required",
    );
    assert_eq!(d.ok(&["images", "-q"]), "", "a refused pull left an image");

    // --- the docker CLI (its own config dir; the daemon checks the password) -------------
    let o = d.docker(&["login", "-u", "alice", "-p", "wrong", &dom]);
    fails_with(
        &o,
        &format!("login attempt to http://{dom}/v2/ failed with status: 401 Unauthorized"),
    );
    let o = d.docker(&["pull", &name]);
    fails_with(&o, "authentication required");
    let mut c = d.docker_cmd(&["login", "-u", "alice", "--password-stdin", &dom]);
    let o = with_stdin(&mut c, b"s3cret\n");
    assert!(o.status.success(), "docker login: {}", stderr(&o));
    assert!(stdout(&o).contains("Login Succeeded"), "{}", stdout(&o));
    let by_digest = format!("{dom}/auth/bb@{digest}");
    d.ok(&["pull", &by_digest]);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            &by_digest,
            "echo",
            "docker authed"
        ]),
        "docker authed"
    );
    let other = format!("{dom}/auth/other:2");
    d.ok(&["tag", &by_digest, &other]);
    let out = d.ok(&["push", &other]);
    assert_eq!(pushed_digest(&out), digest, "same image, same manifest");
    d.ok(&["logout", &dom]);
    rmi_all(&d);
    fails_with(&d.docker(&["pull", &other]), "authentication required");
}

// --- real dockerd ------------------------------------------------------------------------

/// Debian's dockerd (20.10, with its own containerd) inside the test daemon's namespaces,
/// everything under `dir`: no bridge, no iptables (it only moves images here).
struct Dockerd {
    child: Child,
    dir: PathBuf,
}

impl Dockerd {
    fn start(d: &Daemon) -> Option<Dockerd> {
        if !have("dockerd") {
            return None;
        }
        let dir = d.dir.path().join("dockerd");
        std::fs::create_dir_all(&dir).unwrap();
        // dockerd 20.10 writes a trust key to /etc/docker/key.json unless told otherwise.
        std::fs::write(
            dir.join("daemon.json"),
            format!(
                "{{\"deprecated-key-path\": \"{}\"}}\n",
                dir.join("key.json").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = d
            .ns_cmd("dockerd")
            .arg("--config-file")
            .arg(dir.join("daemon.json"))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--ip-forward=false",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let dk = Dockerd { child, dir };
        let end = Instant::now() + Duration::from_secs(60);
        while !dk.docker(&["version"]).status.success() {
            assert!(Instant::now() < end, "dockerd did not start: {}", dk.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(dk)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.dir.join("docker.sock").display()),
            )
            .env("DOCKER_CONFIG", self.dir.join("cli-config"))
            .env("DOCKER_BUILDKIT", "0")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "dockerd: docker {args:?} failed: {}{}\ndockerd log tail:\n{}",
            stdout(&o),
            stderr(&o),
            self.log()
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        );
        stdout(&o).trim().to_string()
    }

    /// A file's content in `image`, read through a created (never started) container.
    fn cat(&self, image: &str, path: &str) -> String {
        let c = self.ok(&["create", "--network", "none", image]);
        let o = self.docker(&["cp", &format!("{c}:{path}"), "-"]);
        self.ok(&["rm", &c]);
        assert!(o.status.success(), "docker cp: {}", stderr(&o));
        // `docker cp ... -` writes a tar with the one file.
        let mut ar = tar_entries(&o.stdout);
        ar.pop().map(|(_, data)| data).unwrap_or_default()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM: dockerd stops its containerd and unmounts; the namespaces' teardown
        // (Daemon's drop) takes whatever is left.
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (name, content) of each regular file in a plain tar (ustar; small files only).
fn tar_entries(tar: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 512 <= tar.len() && tar[off] != 0 {
        let h = &tar[off..off + 512];
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_string();
        let size_field = String::from_utf8_lossy(&h[124..136]);
        let size =
            usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
                .unwrap_or(0);
        let kind = h[156];
        off += 512;
        if kind == b'0' || kind == 0 {
            let data = String::from_utf8_lossy(&tar[off..off + size]).into_owned();
            out.push((name, data));
        }
        off += size.div_ceil(512) * 512;
    }
    out
}

/// A two-layer image built by dockerd's classic builder (COPY needs no container run):
/// busybox imported, then a file, ENV, WORKDIR and CMD.
fn build_in_dockerd(d: &Daemon, dk: &Dockerd, tag: &str) {
    let tar = engine::busybox_tar(&d.dir.path().join("dk-bb"));
    dk.ok(&["import", tar.to_str().unwrap(), "bbase:1"]);
    let ctx = d.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("hello.txt"), "hello from dockerd\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bbase:1\nCOPY hello.txt /data/hello.txt\nENV GREETING=hi\nWORKDIR /data\n\
         CMD [\"cat\", \"/data/hello.txt\"]\n",
    )
    .unwrap();
    dk.ok(&["build", "-q", "-t", tag, ctx.to_str().unwrap()]);
}

#[test]
fn interop_with_real_dockerd_archives_and_registry_both_ways() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let Some(reg) = Registry::start(&d, "registry", None) else {
        return;
    };
    let Some(dk) = Dockerd::start(&d) else {
        return;
    };
    let home = d.dir.path().join("home");
    let dom = reg.domain();
    build_in_dockerd(&d, &dk, "dimg:1");
    let id = dk.ok(&["image", "inspect", "-f", "{{.Id}}", "dimg:1"]);
    let layers = dk.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .RootFS.Layers}}",
        "dimg:1",
    ]);

    // docker save (real dockerd) -> berth load -> the container runs.
    let dsave = d.dir.path().join("dockerd-save.tar");
    dk.ok(&["save", "-o", dsave.to_str().unwrap(), "dimg:1"]);
    let out = berth_ok(&d, &home, &["load", "-i", dsave.to_str().unwrap()]);
    assert!(out.contains("Loaded image: dimg:1"), "{out}");
    assert_eq!(image_id(&d, "dimg:1"), id, "berth's image id is dockerd's");
    assert_eq!(
        d.ok(&[
            "image",
            "inspect",
            "-f",
            "{{json .RootFS.Layers}}",
            "dimg:1"
        ]),
        layers
    );
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "dimg:1"]),
        "hello from dockerd"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "dimg:1",
            "sh",
            "-c",
            "echo $GREETING $PWD"
        ]),
        "hi /data"
    );

    // berth save -> docker load (real dockerd): same id, same content.
    let bsave = d.dir.path().join("berth-save.tar");
    d.ok(&["save", "-o", bsave.to_str().unwrap(), "dimg:1"]);
    dk.ok(&["rmi", "dimg:1"]);
    let out = dk.ok(&["load", "-i", bsave.to_str().unwrap()]);
    assert!(out.contains("Loaded image: dimg:1"), "{out}");
    assert_eq!(dk.ok(&["image", "inspect", "-f", "{{.Id}}", "dimg:1"]), id);
    assert_eq!(
        dk.ok(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Cmd}} {{.Config.WorkingDir}}",
            "dimg:1"
        ]),
        "[\"cat\",\"/data/hello.txt\"] /data"
    );
    assert_eq!(dk.cat("dimg:1", "/data/hello.txt"), "hello from dockerd\n");

    // docker push (real dockerd, gzip layers) -> berth pull -> the container runs.
    let from_docker = format!("{dom}/fromdocker/dimg:1");
    dk.ok(&["tag", "dimg:1", &from_docker]);
    let out = dk.ok(&["push", &from_docker]);
    let docker_digest = pushed_digest(&out);
    rmi_all(&d);
    let out = d.ok(&["pull", &from_docker]);
    assert!(out.contains(&format!("Digest: {docker_digest}")), "{out}");
    assert_eq!(image_id(&d, &from_docker), id);
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", &from_docker]),
        "hello from dockerd"
    );

    // berth push -> docker pull (real dockerd, which has no image left).
    let from_berth = format!("{dom}/fromberth/dimg:2");
    berth_ok(&d, &home, &["tag", &from_docker, &from_berth]);
    let out = berth_ok(&d, &home, &["push", &from_berth]);
    let berth_digest = pushed_digest(&out);
    let all = dk.ok(&["images", "-aq"]);
    let mut rm = vec!["rmi", "-f"];
    rm.extend(all.lines());
    dk.ok(&rm);
    assert_eq!(dk.ok(&["images", "-aq"]), "");
    let out = dk.ok(&["pull", &from_berth]);
    assert!(out.contains(&format!("Digest: {berth_digest}")), "{out}");
    assert_eq!(
        dk.ok(&["image", "inspect", "-f", "{{.Id}}", &from_berth]),
        id
    );
    assert_eq!(
        dk.cat(&from_berth, "/data/hello.txt"),
        "hello from dockerd\n"
    );
}

// --- skopeo and podman -------------------------------------------------------------------

/// podman with its storage and state under `dir`, in the daemon's namespaces (to reach the
/// registry). vfs storage, cgroupfs, no events: nothing outside `dir` is written, but its
/// blob-info cache, which goes to a tmpfs the test mounts in its own mount namespace.
fn podman(d: &Daemon, dir: &Path, args: &[&str]) -> Output {
    let mut c = d.ns_cmd("podman");
    c.arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .arg("--tmpdir")
        .arg(dir.join("tmp"))
        .args([
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "none",
        ])
        .args(args)
        .env("TMPDIR", dir.join("tmp"))
        .stdin(Stdio::null());
    c.output().unwrap()
}

/// skopeo in the daemon's namespaces, its temporary files under `tmp`.
fn skopeo(d: &Daemon, tmp: &Path, args: &[&str]) -> Output {
    d.ns_cmd("skopeo")
        .args(args)
        .env("TMPDIR", tmp)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(what: &str, o: Output) -> String {
    assert!(
        o.status.success(),
        "{what} failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o).trim().to_string()
}

#[test]
fn interop_with_skopeo_and_podman() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let Some(reg) = Registry::start(&d, "registry", None) else {
        return;
    };
    let (skopeo_here, podman_here) = (have("skopeo"), have("podman"));
    if !skopeo_here && !podman_here {
        return;
    }
    // skopeo and podman keep a blob-info cache in /var/lib/containers/cache, and podman
    // load spools to /var/tmp whatever TMPDIR says: tmpfs mounts in the daemon's (private)
    // mount namespace keep both off the host.
    for dir in ["/var/lib/containers", "/var/tmp"] {
        let o = d.ns(&["mount", "-t", "tmpfs", "tmpfs", dir]);
        assert!(o.status.success(), "tmpfs on {dir}: {}", stderr(&o));
    }
    let home = d.dir.path().join("home");
    let dom = reg.domain();
    let id = image_id(&d, "busybox");
    let from_berth = format!("{dom}/fromberth/bb:1");
    d.ok(&["tag", "busybox", &from_berth]);
    let digest = pushed_digest(&berth_ok(&d, &home, &["push", &from_berth]));
    let layers = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .RootFS.Layers}}",
        "busybox",
    ]);

    let tmp = d.dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    if skopeo_here {
        // berth push -> skopeo reads it and copies it whole.
        let info = ok(
            "skopeo inspect",
            skopeo(
                &d,
                &tmp,
                &[
                    "inspect",
                    "--tls-verify=false",
                    &format!("docker://{from_berth}"),
                ],
            ),
        );
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        assert_eq!(info["Digest"].as_str(), Some(digest.as_str()), "{info}");
        let layout = d.dir.path().join("skopeo-oci");
        ok(
            "skopeo copy from the registry",
            skopeo(
                &d,
                &tmp,
                &[
                    "copy",
                    "--src-tls-verify=false",
                    &format!("docker://{from_berth}"),
                    &format!("oci:{}:x", layout.display()),
                ],
            ),
        );
        let hex = id.trim_start_matches("sha256:");
        assert!(
            layout.join("blobs/sha256").join(hex).is_file(),
            "config blob copied"
        );

        // skopeo push (gzip-compressed by skopeo) -> berth pull -> runs.
        let from_skopeo = format!("{dom}/fromskopeo/bb:1");
        let bsave = d.dir.path().join("berth-save.tar");
        d.ok(&["save", "-o", bsave.to_str().unwrap(), "busybox"]);
        ok(
            "skopeo copy to the registry",
            skopeo(
                &d,
                &tmp,
                &[
                    "copy",
                    "--dest-tls-verify=false",
                    &format!("docker-archive:{}", bsave.display()),
                    &format!("docker://{from_skopeo}"),
                ],
            ),
        );
        let out = berth_ok(&d, &home, &["pull", &from_skopeo]);
        assert!(out.contains("Digest: sha256:"), "{out}");
        assert_eq!(image_id(&d, &from_skopeo), id);
        assert_eq!(
            d.ok(&[
                "image",
                "inspect",
                "-f",
                "{{json .RootFS.Layers}}",
                &from_skopeo
            ]),
            layers
        );
        assert_eq!(
            d.ok(&[
                "run",
                "--rm",
                "--network",
                "none",
                &from_skopeo,
                "echo",
                "from skopeo"
            ]),
            "from skopeo"
        );
    }

    if podman_here {
        let pdir = d.dir.path().join("podman");
        std::fs::create_dir_all(pdir.join("tmp")).unwrap();
        // berth save -> podman load.
        let bsave = d.dir.path().join("berth-save-podman.tar");
        d.ok(&["save", "-o", bsave.to_str().unwrap(), "busybox"]);
        let out = ok(
            "podman load",
            podman(&d, &pdir, &["load", "-i", bsave.to_str().unwrap()]),
        );
        assert!(out.contains("busybox"), "{out}");
        let pid = ok(
            "podman inspect",
            podman(&d, &pdir, &["image", "inspect", "-f", "{{.Id}}", "busybox"]),
        );
        assert_eq!(format!("sha256:{pid}"), id);
        // berth push -> podman pull.
        ok(
            "podman pull",
            podman(&d, &pdir, &["pull", "--tls-verify=false", &from_berth]),
        );
        // The same image as the one loaded (podman keeps its first digest in .Digest); the
        // pulled manifest is among its RepoDigests.
        let seen = ok(
            "podman inspect",
            podman(
                &d,
                &pdir,
                &[
                    "image",
                    "inspect",
                    "-f",
                    "{{.Id}} {{json .RepoDigests}}",
                    &from_berth,
                ],
            ),
        );
        assert!(seen.starts_with(&format!("{pid} ")), "{seen}");
        let repo = from_berth.trim_end_matches(":1");
        assert!(seen.contains(&format!("{repo}@{digest}")), "{seen}");
        // podman push -> berth pull -> runs.
        let from_podman = format!("{dom}/frompodman/bb:1");
        ok(
            "podman push",
            podman(
                &d,
                &pdir,
                &[
                    "push",
                    "--tls-verify=false",
                    "busybox",
                    &format!("docker://{from_podman}"),
                ],
            ),
        );
        berth_ok(&d, &home, &["pull", &from_podman]);
        assert_eq!(image_id(&d, &from_podman), id);
        assert_eq!(
            d.ok(&[
                "run",
                "--rm",
                "--network",
                "none",
                &from_podman,
                "echo",
                "from podman"
            ]),
            "from podman"
        );
    }
}
