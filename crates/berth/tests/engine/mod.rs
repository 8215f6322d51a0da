//! Harness for the engine tests: a `berth daemon` in its own network and mount namespaces
//! (held by a `sleep` process, so the daemon can be killed and restarted inside them), the
//! real `docker` CLI pointed at its socket, a busybox image imported into it, a cgroup parent
//! of its own, and a cleanup that kills everything inside the namespaces and under that
//! parent and removes the parent.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    pub dir: tempfile::TempDir,
    holder: Child,
    daemon: Option<Child>,
    pub sock: PathBuf,
    /// The daemon's `--cgroup-parent` (the temp dir's name): only this test's containers.
    pub cgroup_parent: String,
}

/// Whether the tools these tests need are here (root, docker CLI, unshare).
pub fn usable() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let docker = Command::new("docker").arg("--version").output().is_ok();
    if !root || !docker {
        eprintln!("SKIP: engine tests need root and the docker CLI");
        return false;
    }
    true
}

fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The `berth` binary under test: `$BERTH_TEST_BIN` (scripts/test.sh points it at the
/// statically linked one scripts/build.sh makes, as berth ships), else cargo's.
pub fn berth_bin() -> PathBuf {
    test_binary("BERTH_TEST_BIN", "berth")
}

/// The shim the daemons under test run: `$BERTH_TEST_SHIM` (as `$BERTH_TEST_BIN`), else the
/// one cargo built next to `berth`.
fn shim_binary() -> PathBuf {
    test_binary("BERTH_TEST_SHIM", "berth-shim")
}

/// The path in `$var` when set, else cargo's binary `name`.
fn test_binary(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| bin_dir().join(name))
}

/// A busybox rootfs as a tar file.
pub fn busybox_tar(dir: &Path) -> PathBuf {
    let root = dir.join("bb");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for a in [
        "sh", "echo", "cat", "ls", "sleep", "true", "false", "id", "hostname", "ps", "env", "wget",
        "httpd", "nc", "head", "tr", "stty", "touch", "seq", "mkdir", "tail", "kill", "dd",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    let tar = dir.join("busybox.tar");
    let ok = Command::new("tar")
        .args(["-C"])
        .arg(&root)
        .args(["-cf"])
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success();
    assert!(ok, "tar failed");
    tar
}

impl Daemon {
    /// Namespaces, the daemon, and a `busybox` image.
    pub fn start() -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("berth-eng-")
            .tempdir_in(std::env::temp_dir())
            .unwrap();
        let holder = Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--propagation",
                "private",
                "sleep",
                "infinity",
            ])
            .spawn()
            .expect("unshare");
        // Wait until the holder is in its own namespaces.
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(format!("/proc/{}/ns/net", holder.id())).ok() == Some(me.clone())
            || std::fs::read_link(format!("/proc/{}/ns/net", holder.id())).is_err()
        {
            assert!(Instant::now() < end, "unshare did not make a netns");
            std::thread::sleep(Duration::from_millis(5));
        }
        let sock = dir.path().join("berth.sock");
        let cgroup_parent = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut d = Daemon {
            dir,
            holder,
            daemon: None,
            sock,
            cgroup_parent,
        };
        d.ns(&["ip", "link", "set", "lo", "up"]);
        d.spawn_daemon();
        let tar = busybox_tar(d.dir.path());
        let out = d.docker(&["import", tar.to_str().unwrap(), "busybox"]);
        assert!(out.status.success(), "import: {}", stderr(&out));
        d
    }

    pub fn holder_pid(&self) -> u32 {
        self.holder.id()
    }

    /// `program` to be run in the daemon's network and mount namespaces (nsenter without
    /// --pid or --fork execs it: the child is the program itself).
    pub fn ns_cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("-t")
            .arg(self.holder.id().to_string())
            .args(["--net", "--mount", "--"])
            .arg(program);
        c
    }

    /// Run a command in the daemon's network and mount namespaces.
    pub fn ns(&self, args: &[&str]) -> Output {
        self.ns_cmd(args[0]).args(&args[1..]).output().unwrap()
    }

    /// (Re)start the daemon inside the namespaces and wait for its socket to answer.
    pub fn spawn_daemon(&mut self) {
        let data = self.dir.path().join("data");
        let run = self.dir.path().join("run");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        let child = self
            .ns_cmd(berth_bin())
            .arg("daemon")
            .arg("--data-root")
            .arg(&data)
            .arg("--exec-root")
            .arg(&run)
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .arg("--cgroup-parent")
            .arg(format!("/{}", self.cgroup_parent))
            .env("BERTH_SHIM", shim_binary())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        // Generous: a restarted daemon first recovers every container it had, and a loaded
        // CI machine is slow; BERTH_TEST_SLOW multiplies it (scripts/guest/ emulates its
        // CPU). A daemon that exited is reported at once.
        let slow = std::env::var("BERTH_TEST_SLOW")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        let wait = Duration::from_secs(60 * slow.max(1));
        let end = Instant::now() + wait;
        loop {
            if self.docker(&["version"]).status.success() {
                return;
            }
            if let Some(status) = self
                .daemon
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("daemon exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < end,
                "daemon did not answer in {wait:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's pid (nsenter execs it, so the child is the daemon itself).
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
    }

    /// SIGKILL the daemon (its containers and shims live on).
    pub fn kill_daemon(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            // nsenter execs the daemon, so the child is the daemon itself.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .args(args);
        c
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Run docker and insist on success; stdout trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed ({:?}): {}\ndaemon log:\n{}",
            out.status.code(),
            stderr(&out),
            self.log()
        );
        stdout(&out).trim().to_string()
    }

    /// Run the berth CLI against this daemon and insist on success; stdout trimmed.
    pub fn berth(&self, args: &[&str]) -> String {
        let o = Command::new(berth_bin())
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "berth {args:?} failed: {}{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o).trim().to_string()
    }

    /// The daemon's cgroup parent in every hierarchy where it exists (v1: one per controller
    /// mount berth uses, v2: one).
    pub fn cgroup_parents(&self) -> Vec<PathBuf> {
        cgroup_roots()
            .iter()
            .map(|r| r.join(&self.cgroup_parent))
            .filter(|p| p.is_dir())
            .collect()
    }

    /// The container's cgroup directories that exist (v1: one per controller mount).
    pub fn cgroup_dirs(&self, id: &str) -> Vec<PathBuf> {
        self.cgroup_parents()
            .iter()
            .map(|p| p.join(id))
            .filter(|d| d.is_dir())
            .collect()
    }

    /// The first of `files` found in the container's cgroup directories (v1 or v2 names).
    pub fn cgroup_file(&self, id: &str, files: &[&str]) -> Option<String> {
        self.cgroup_dirs(id)
            .iter()
            .flat_map(|dir| files.iter().map(move |f| dir.join(f)))
            .find_map(|p| std::fs::read_to_string(p).ok())
    }

    /// Every container id this daemon knows.
    pub fn all_ids(&self) -> Vec<String> {
        let out = self.docker(&["ps", "-aq", "--no-trunc"]);
        stdout(&out).lines().map(str::to_string).collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            for id in self.all_ids() {
                let _ = self.docker(&["rm", "-f", &id]);
            }
        }
        self.kill_daemon();
        // Anything still alive in the namespaces (shims, containers) goes.
        let mnt = std::fs::read_link(format!("/proc/{}/ns/mnt", self.holder.id())).ok();
        if let (Some(mnt), Ok(rd)) = (mnt, std::fs::read_dir("/proc")) {
            for e in rd.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                if pid as u32 == self.holder.id() {
                    continue;
                }
                if std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                    .ok()
                    .as_ref()
                    == Some(&mnt)
                {
                    // SAFETY: plain kill(2) on a pid we found in our test's namespace.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        // Containers live in namespaces of their own, so the sweep above misses them: when
        // the daemon could not remove them (it died, or never came back), their processes
        // are found under the daemon's cgroup parent, which holds only this test's.
        let parents = self.cgroup_parents();
        for p in &parents {
            let mut pids = Vec::new();
            procs_below(p, &mut pids);
            for pid in pids {
                // SAFETY: plain kill(2) on a process under this test's cgroup parent.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        for p in &parents {
            rmdir_below(p);
        }
    }
}

/// Where the cgroup hierarchies are mounted: /sys/fs/cgroup on a pure v2 host, each
/// controller's mount under it on v1.
pub fn cgroup_roots() -> Vec<PathBuf> {
    let top = Path::new("/sys/fs/cgroup");
    if top.join("cgroup.controllers").exists() {
        return vec![top.to_path_buf()];
    }
    names_in(top).iter().map(|n| top.join(n)).collect()
}

/// The pids in `dir` and every cgroup below it.
fn procs_below(dir: &Path, out: &mut Vec<i32>) {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    out.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    for n in cgroups_in(dir) {
        procs_below(&dir.join(n), out);
    }
}

/// The sub-cgroups of a cgroup directory (its files left out).
pub fn cgroups_in(dir: &Path) -> BTreeSet<String> {
    names_in(dir)
        .into_iter()
        .filter(|n| dir.join(n).is_dir())
        .collect()
}

/// Remove the cgroup `dir` and everything below it, deepest first, waiting for processes
/// that are still exiting.
fn rmdir_below(dir: &Path) {
    for n in cgroups_in(dir) {
        rmdir_below(&dir.join(n));
    }
    let end = Instant::now() + Duration::from_secs(5);
    while std::fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The names in a directory (none when it cannot be read).
pub fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Poll `f` until it is true or the time is up.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A busybox shell command: an httpd on port 80 whose /cgi-bin/ip answers with the client's
/// address (and / with "hi").
pub const WHO: &str = "mkdir -p /w/cgi-bin; printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /w/cgi-bin/ip; \
     busybox chmod +x /w/cgi-bin/ip; echo hi > /w/index.html; httpd -f -p 80 -h /w";

/// Asserts that a command failed and that its stderr says `want`.
pub fn fails(o: &Output, want: &str) {
    assert!(!o.status.success(), "expected a failure: {}", stdout(o));
    assert!(
        stderr(o).contains(want),
        "error should say {want:?}, got: {}",
        stderr(o)
    );
}

/// A process holding a fresh network namespace: "the outside world", linked to the
/// daemon's netns by a veth (198.51.100.1 and 2001:db8:77::1 on the host's side, .2 and ::2
/// out there; documentation ranges, only inside these namespaces).
pub struct Outside(Child);

impl Outside {
    pub fn new(d: &Daemon) -> Outside {
        let o = Outside(
            Command::new("unshare")
                .args(["--net", "sleep", "infinity"])
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // Wait until unshare has made the netns (the link must not land in ours).
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        let theirs = format!("/proc/{}/ns/net", o.0.id());
        let made = eventually(Duration::from_secs(5), || {
            std::fs::read_link(&theirs).is_ok_and(|ns| ns != me)
        });
        assert!(made, "unshare did not make the outside netns");
        let pid = o.0.id().to_string();
        let r = d.ns(&[
            "ip", "link", "add", "bt-up", "type", "veth", "peer", "name", "eth0", "netns", &pid,
        ]);
        assert!(r.status.success(), "{}", stderr(&r));
        d.ns(&["ip", "addr", "add", "198.51.100.1/24", "dev", "bt-up"]);
        d.ns(&["ip", "link", "set", "bt-up", "up"]);
        o.run(&["ip", "addr", "add", "198.51.100.2/24", "dev", "eth0"]);
        o.run(&["ip", "link", "set", "eth0", "up"]);
        o.run(&["ip", "link", "set", "lo", "up"]);
        d.ns(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:77::1/64",
            "dev",
            "bt-up",
            "nodad",
        ]);
        o.run(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:77::2/64",
            "dev",
            "eth0",
            "nodad",
        ]);
        o
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.0.id().to_string(), "--net", "--"])
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// A TCP server out there on `addr` port 8000 that answers each connection with the
    /// address it sees (IPv4 or IPv6); it ends with the returned guard.
    pub fn peer_server(&self, addr: &str) -> Kill {
        let family = if addr.contains(':') {
            "AF_INET6"
        } else {
            "AF_INET"
        };
        let server = self
            .cmd(&["python3", "-c"])
            .arg(format!(
                "import socket\ns=socket.socket(socket.{family});s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
                 s.bind(('{addr}',8000));s.listen(8)\n\
                 while True:\n  c,a=s.accept();c.sendall((a[0]+'\\n').encode());c.close()"
            ))
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        Kill(server)
    }

    /// GET `url` from out there: the body, or the error.
    pub fn fetch(&self, url: &str) -> String {
        let o = self.run(&[
            "python3",
            "-c",
            &format!(
                "import urllib.request as u;print(u.urlopen('{url}',timeout=2).read().decode())"
            ),
        ]);
        format!("{}{}", stdout(&o), stderr(&o))
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child process killed when the test ends.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
