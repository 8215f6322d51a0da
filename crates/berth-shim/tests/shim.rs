//! What a user of the shim sees: a container's output in its json-file log and its exit code
//! in exit.json; attach streams (framed, raw with a tty), stdin and resize; a shim that
//! outlives its spawner; exec with buffered output; clean failures; log rotation; OOM.
//! Run as root with a static busybox; each test cleans up after itself and fails when a
//! container, cgroup or shim process is left behind.

use berth_runtime::Container;
use berth_shim::{read_exit, spawn_exec, spawn_start, Client, ExitInfo, StartOpts};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

const SHIM: &str = env!("CARGO_BIN_EXE_berth-shim");

// ---------------------------------------------------------------------------------------------
// Harness

fn busybox() -> Option<&'static Path> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
}

fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP {test}: needs root");
        return false;
    }
    if busybox().is_none() {
        eprintln!("SKIP {test}: no static busybox (apt-get install busybox-static)");
        return false;
    }
    true
}

fn applets() -> &'static [String] {
    static A: OnceLock<Vec<String>> = OnceLock::new();
    A.get_or_init(|| {
        let out = Command::new(busybox().unwrap())
            .arg("--list")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty() && *l != "busybox")
            .map(str::to_owned)
            .collect()
    })
}

fn unique_id() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "bs-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn cgroup_rel(id: &str) -> String {
    format!("berth-shim-test-{id}")
}

/// Existing cgroup directories of container `id` in every mounted hierarchy.
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let mut roots = vec![base.to_path_buf()];
    if let Ok(rd) = fs::read_dir(base) {
        roots.extend(rd.flatten().map(|e| e.path()));
    }
    roots
        .into_iter()
        .map(|r| r.join(cgroup_rel(id)))
        .filter(|p| p.is_dir())
        .collect()
}

fn pid_alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// Pids of berth-shim processes whose command line mentions `needle`.
fn shims_mentioning(needle: &str) -> Vec<i32> {
    let mut out = vec![];
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.contains("berth-shim") && cmd.contains(needle) && pid_alive(pid) {
            out.push(pid);
        }
    }
    out
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        sleep(Duration::from_millis(20));
    }
}

/// A temp dir with bundles, a runtime root and shim state dirs. Dropping it kills leftover
/// shims, deletes every container (`delete --force`), and fails the test if anything was
/// still there.
struct Sandbox {
    tmp: tempfile::TempDir,
    root: PathBuf,
    ids: RefCell<Vec<String>>,
}

struct Bundle {
    id: String,
    dir: PathBuf,
    config: Value,
}

impl Bundle {
    fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    fn save(&self) {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::Builder::new()
            .prefix("berth-shim-")
            .tempdir()
            .unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let root = tmp.path().join("runtime");
        Sandbox {
            tmp,
            root,
            ids: RefCell::new(vec![]),
        }
    }

    /// A bundle: busybox rootfs, the default spec with terminal off and a test cgroup.
    fn bundle(&self) -> Bundle {
        let id = unique_id();
        let dir = self.tmp.path().join("bundles").join(&id);
        let rootfs = dir.join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::copy(busybox().unwrap(), rootfs.join("bin/busybox")).unwrap();
        for a in applets() {
            let _ = symlink("busybox", rootfs.join("bin").join(a));
        }
        let mut config = berth_runtime::spec::default_spec(false);
        config["process"]["terminal"] = json!(false);
        config["linux"]["cgroupsPath"] = json!(format!("/{}", cgroup_rel(&id)));
        self.ids.borrow_mut().push(id.clone());
        Bundle { id, dir, config }
    }

    fn state_dir(&self, id: &str) -> PathBuf {
        self.tmp.path().join("shim").join(id)
    }

    fn start_opts(&self, b: &Bundle) -> StartOpts {
        b.save();
        StartOpts {
            id: b.id.clone(),
            bundle: b.dir.clone(),
            runtime_root: self.root.clone(),
            dir: self.state_dir(&b.id),
            tty: false,
            stdin: false,
            log_max_size: None,
            log_max_file: None,
            shim_binary: PathBuf::from(SHIM),
        }
    }

    /// spawn_start with `opts`, then start the container; its state dir.
    fn run(&self, opts: &StartOpts) -> PathBuf {
        let pid = spawn_start(opts).expect("spawn_start");
        assert!(pid_alive(pid), "init {pid} is not alive after create");
        self.container(&opts.id).start().expect("start");
        opts.dir.clone()
    }

    fn container(&self, id: &str) -> Container {
        Container::load(&self.root, id).expect("load container")
    }

    /// Write an OCI process built from the container's own one, for `spawn_exec`.
    fn exec_opts(&self, id: &str, args: &[&str], tag: &str) -> berth_shim::ExecOpts {
        let c = self.container(id);
        let p = berth_runtime::exec::process_from_args(
            &c,
            args.iter().map(|s| s.to_string()).collect(),
            &[],
            None,
            None,
            false,
        )
        .unwrap();
        let file = self.tmp.path().join(format!("{id}-{tag}.json"));
        fs::write(&file, serde_json::to_vec(&p).unwrap()).unwrap();
        berth_shim::ExecOpts {
            id: id.to_string(),
            runtime_root: self.root.clone(),
            dir: self.tmp.path().join("exec").join(format!("{id}-{tag}")),
            process_file: file,
            tty: false,
            stdin: false,
            shim_binary: PathBuf::from(SHIM),
        }
    }

    fn leftovers(&self, id: &str) -> Vec<String> {
        let mut left = vec![];
        if self.root.join(id).exists() {
            left.push(format!("runtime state {}", self.root.join(id).display()));
        }
        left.extend(
            cgroup_dirs(id)
                .iter()
                .map(|d| format!("cgroup {}", d.display())),
        );
        left
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // A shim exits on its own shortly after its process did; any still there is a leak.
        let tmp = self.tmp.path().to_string_lossy().into_owned();
        wait_until(Duration::from_secs(3), || shims_mentioning(&tmp).is_empty());
        let shims = shims_mentioning(&tmp);
        for &pid in &shims {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let mut left = vec![];
        for id in self.ids.borrow().iter() {
            if let Ok(c) = Container::load(&self.root, id) {
                if let Err(e) = c.delete(true) {
                    left.push(format!("{id}: delete --force: {e}"));
                }
            }
            let l = self.leftovers(id);
            if !l.is_empty() {
                left.push(format!("{id}: {}", l.join(", ")));
            }
            for d in cgroup_dirs(id) {
                let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
                for p in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: as above.
                    unsafe { libc::kill(p, libc::SIGKILL) };
                }
                let _ = wait_until(Duration::from_secs(2), || fs::remove_dir(&d).is_ok());
            }
        }
        if !shims.is_empty() {
            left.push(format!("shim processes still running: {shims:?}"));
        }
        if !left.is_empty() && !std::thread::panicking() {
            panic!("left behind:\n{}", left.join("\n"));
        }
    }
}

/// Everything from `s` until EOF (panics after `limit`).
fn read_to_eof(s: &mut UnixStream, limit: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let end = Instant::now() + limit;
    let mut out = vec![];
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("read: {e}"),
        }
        assert!(
            Instant::now() < end,
            "no EOF within {limit:?}; got {:?}",
            String::from_utf8_lossy(&out)
        );
    }
}

/// Read from `s` until what was read contains `needle`; everything read.
fn read_until(s: &mut UnixStream, needle: &str, limit: Duration) -> String {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let end = Instant::now() + limit;
    let mut out = vec![];
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains(needle) {
        assert!(
            Instant::now() < end,
            "no {needle:?} within {limit:?}; got {:?}",
            String::from_utf8_lossy(&out)
        );
        match s.read(&mut buf) {
            Ok(0) => panic!(
                "EOF before {needle:?}; got {:?}",
                String::from_utf8_lossy(&out)
            ),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Split docker's multiplexed stream into (stdout, stderr), checking every header.
fn demux(mut b: &[u8]) -> (String, String) {
    let (mut out, mut err) = (vec![], vec![]);
    while !b.is_empty() {
        assert!(b.len() >= 8, "truncated header: {b:?}");
        assert_eq!(&b[1..4], &[0, 0, 0], "header {:?}", &b[..8]);
        let len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        assert!(b.len() >= 8 + len, "truncated frame");
        match b[0] {
            1 => out.extend_from_slice(&b[8..8 + len]),
            2 => err.extend_from_slice(&b[8..8 + len]),
            s => panic!("stream {s}"),
        }
        b = &b[8 + len..];
    }
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn log_entries(dir: &Path, name: &str) -> Vec<Value> {
    fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn wait(dir: &Path) -> ExitInfo {
    Client::connect(dir).expect("connect").wait().expect("wait")
}

/// The shim for `dir` is gone and has removed its socket.
fn assert_shim_gone(dir: &Path) {
    let pid: i32 = fs::read_to_string(dir.join("shim.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || !pid_alive(pid)),
        "shim {pid} still running"
    );
    assert!(!dir.join("shim.sock").exists(), "shim.sock left behind");
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn output_lands_in_the_json_log_and_the_exit_code_in_exit_json() {
    if !can_run("output_lands_in_the_json_log") {
        return;
    }
    let sb = Sandbox::new();
    let mut b = sb.bundle();
    b.sh("echo out; echo err >&2; exit 3");
    let dir = sb.run(&sb.start_opts(&b));
    let e = wait(&dir);
    assert_eq!(e.exit_code, 3, "{e:?}");
    assert!(!e.oom_killed);
    assert_eq!(read_exit(&dir).unwrap(), Some(e.clone()));
    assert!(
        e.finished_at.ends_with('Z') && e.finished_at.len() == 30,
        "{e:?}"
    );
    assert_shim_gone(&dir);

    let entries = log_entries(&dir, "container.log");
    let mut pairs: Vec<(String, String)> = entries
        .iter()
        .map(|v| {
            (
                v["stream"].as_str().unwrap().into(),
                v["log"].as_str().unwrap().into(),
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("stderr".into(), "err\n".into()),
            ("stdout".into(), "out\n".into())
        ]
    );
    for v in &entries {
        let t = v["time"].as_str().unwrap();
        assert!(
            t.len() == 30 && t.as_bytes()[10] == b'T' && t.ends_with('Z'),
            "{t}"
        );
    }
    // Deleting the stopped container is the daemon's job; the shim left it for that.
    sb.container(&b.id).delete(false).unwrap();
}

#[test]
fn attach_before_start_gets_framed_output_and_feeds_stdin() {
    if !can_run("attach_before_start") {
        return;
    }
    let sb = Sandbox::new();
    let mut b = sb.bundle();
    b.sh("echo out; echo err >&2; cat; echo after-eof");
    let mut opts = sb.start_opts(&b);
    opts.stdin = true;
    spawn_start(&opts).expect("spawn_start");
    let client = Client::connect(&opts.dir).unwrap();
    let mut s = client.attach(true, true, true).unwrap();
    // No tty: resize is refused.
    let e = client.resize(24, 80).unwrap_err();
    assert!(e.to_string().contains("no terminal"), "{e}");
    sb.container(&b.id).start().unwrap();
    s.write_all(b"through stdin\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let bytes = read_to_eof(&mut s, Duration::from_secs(10));
    let (out, err) = demux(&bytes);
    assert_eq!(out, "out\nthrough stdin\nafter-eof\n");
    assert_eq!(err, "err\n");
    assert_eq!(wait(&opts.dir).exit_code, 0);
    assert_shim_gone(&opts.dir);
    // The log has the same lines.
    let logged: Vec<String> = log_entries(&opts.dir, "container.log")
        .iter()
        .filter(|v| v["stream"] == "stdout")
        .map(|v| v["log"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(logged, ["out\n", "through stdin\n", "after-eof\n"]);
}

#[test]
fn a_slow_attach_client_gets_every_byte_of_a_large_output() {
    if !can_run("a_slow_attach_client_gets_every_byte") {
        return;
    }
    let sb = Sandbox::new();
    let mut b = sb.bundle();
    b.sh("head -c 3000000 /dev/zero | tr '\\0' a; echo; echo done >&2");
    let opts = sb.start_opts(&b);
    spawn_start(&opts).expect("spawn_start");
    let mut s = Client::connect(&opts.dir)
        .unwrap()
        .attach(false, true, true)
        .unwrap();
    sb.container(&b.id).start().unwrap();
    // Not reading for a while: the shim holds the process back instead of buffering it all.
    sleep(Duration::from_millis(500));
    let (out, err) = demux(&read_to_eof(&mut s, Duration::from_secs(30)));
    assert_eq!(out.len(), 3_000_001);
    assert!(out[..3_000_000].bytes().all(|c| c == b'a') && out.ends_with('\n'));
    assert_eq!(err, "done\n");
    assert_eq!(wait(&opts.dir).exit_code, 0);
    // The log has it all too, in entries of at most 16 KiB.
    let entries = log_entries(&opts.dir, "container.log");
    let logged: usize = entries
        .iter()
        .filter(|v| v["stream"] == "stdout")
        .map(|v| v["log"].as_str().unwrap().len())
        .sum();
    assert_eq!(logged, 3_000_001);
    assert!(entries
        .iter()
        .all(|v| v["log"].as_str().unwrap().len() <= 16 * 1024));
}

#[test]
fn tty_attach_is_raw_and_resize_changes_the_size() {
    if !can_run("tty_attach_is_raw") {
        return;
    }
    let sb = Sandbox::new();
    let mut b = sb.bundle();
    b.sh("stty size; read x; stty size; echo got-$x");
    b.config["process"]["terminal"] = json!(true);
    let mut opts = sb.start_opts(&b);
    opts.tty = true;
    opts.stdin = true;
    spawn_start(&opts).expect("spawn_start");
    let client = Client::connect(&opts.dir).unwrap();
    let mut s = client.attach(true, true, true).unwrap();
    client.resize(24, 80).unwrap();
    sb.container(&b.id).start().unwrap();
    let first = read_until(&mut s, "24 80\r\n", Duration::from_secs(10));
    assert!(first.starts_with("24 80\r\n"), "not raw: {first:?}");
    client.resize(50, 132).unwrap();
    s.write_all(b"go\n").unwrap();
    let rest = String::from_utf8(read_to_eof(&mut s, Duration::from_secs(10))).unwrap();
    let all = first + &rest;
    assert!(all.contains("50 132\r\n"), "{all:?}");
    assert!(all.contains("got-go\r\n"), "{all:?}");
    assert_eq!(wait(&opts.dir).exit_code, 0);
    assert_shim_gone(&opts.dir);
}

/// Not a test on its own: run by `the_container_outlives_the_process_that_spawned_its_shim`
/// in a child process, which spawns the shim, starts the container and exits.
#[test]
fn spawner_helper() {
    let Ok(arg) = std::env::var("BERTH_SHIM_TEST_SPAWN") else {
        return;
    };
    let v: Value = serde_json::from_str(&arg).unwrap();
    let opts = StartOpts {
        id: v["id"].as_str().unwrap().into(),
        bundle: v["bundle"].as_str().unwrap().into(),
        runtime_root: v["root"].as_str().unwrap().into(),
        dir: v["dir"].as_str().unwrap().into(),
        tty: false,
        stdin: false,
        log_max_size: None,
        log_max_file: None,
        shim_binary: PathBuf::from(SHIM),
    };
    let pid = spawn_start(&opts).unwrap();
    Container::load(&opts.runtime_root, &opts.id)
        .unwrap()
        .start()
        .unwrap();
    println!("INIT-PID {pid}");
}

#[test]
fn the_container_outlives_the_process_that_spawned_its_shim() {
    if !can_run("the_container_outlives_its_spawner") {
        return;
    }
    let sb = Sandbox::new();
    let mut b = sb.bundle();
    b.sh("sleep 1; echo still-here; exit 7");
    let opts = sb.start_opts(&b);
    let arg = json!({
        "id": b.id, "bundle": b.dir, "root": sb.root, "dir": opts.dir,
    });
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "spawner_helper",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BERTH_SHIM_TEST_SPAWN", arg.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helper failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: i32 = text
        .lines()
        .find_map(|l| l.split("INIT-PID ").nth(1))
        .unwrap_or_else(|| panic!("no pid in {text}"))
        .parse()
        .unwrap();
    // The spawner is gone; the container runs on under its shim, which is not the spawner.
    assert!(pid_alive(pid), "init {pid} died with its spawner");
    let shim: i32 = fs::read_to_string(opts.dir.join("shim.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: i32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, shim, "the shim is init's parent");
    let e = wait(&opts.dir);
    assert_eq!(e.exit_code, 7);
    let logged: Vec<Value> = log_entries(&opts.dir, "container.log");
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0]["log"], "still-here\n");
    assert_shim_gone(&opts.dir);
}

#[test]
fn exec_output_is_kept_for_a_late_attach_and_codes_come_back() {
    if !can_run("exec_output_is_kept_for_a_late_attach") {
        return;
    }
    let sb = Sandbox::new();
    let mut b = sb.bundle();
    b.args(&["sleep", "100"]);
    let dir = sb.run(&sb.start_opts(&b));

    // Output before anyone attached is kept for the first attach client.
    let o = sb.exec_opts(&b.id, &["sh", "-c", "echo hi; echo ho >&2"], "echo");
    let pid = spawn_exec(&o).expect("spawn_exec");
    assert!(wait_until(Duration::from_secs(5), || !pid_alive(pid)));
    sleep(Duration::from_millis(300));
    let client = Client::connect(&o.dir).unwrap();
    let mut s = client.attach(false, true, true).unwrap();
    let (out, err) = demux(&read_to_eof(&mut s, Duration::from_secs(10)));
    assert_eq!((out.as_str(), err.as_str()), ("hi\n", "ho\n"));
    assert_eq!(client.wait().unwrap().exit_code, 0);
    assert_shim_gone(&o.dir);
    assert!(
        !o.dir.join("container.log").exists(),
        "exec output is not logged"
    );

    // An exit code of its own.
    let o = sb.exec_opts(&b.id, &["sh", "-c", "exit 5"], "five");
    spawn_exec(&o).expect("spawn_exec");
    assert_eq!(wait(&o.dir).exit_code, 5);
    assert_eq!(read_exit(&o.dir).unwrap().unwrap().exit_code, 5);

    // kill reaches the exec process.
    let o = sb.exec_opts(&b.id, &["sleep", "100"], "kill");
    spawn_exec(&o).expect("spawn_exec");
    let c = Client::connect(&o.dir).unwrap();
    c.kill(9).unwrap();
    assert_eq!(c.wait().unwrap().exit_code, 137);

    // With a tty: raw bytes, the process's stdio is a terminal.
    let mut o = sb.exec_opts(&b.id, &["sh", "-c", "tty; stty size"], "tty");
    o.tty = true;
    spawn_exec(&o).expect("spawn_exec --tty");
    let c = Client::connect(&o.dir).unwrap();
    let mut s = c.attach(false, true, true).unwrap();
    let out = String::from_utf8(read_to_eof(&mut s, Duration::from_secs(10))).unwrap();
    assert!(out.starts_with("/dev/pts/"), "{out:?}");
    assert!(out.contains("\r\n"), "{out:?}");
    assert_eq!(c.wait().unwrap().exit_code, 0);

    // The container itself still runs; stop it through the runtime as the daemon would.
    let ct = sb.container(&b.id);
    ct.kill(nix::sys::signal::Signal::SIGKILL, false).unwrap();
    assert_eq!(wait(&dir).exit_code, 137);
    assert_shim_gone(&dir);
}

#[test]
fn a_failing_start_reports_and_leaves_nothing() {
    if !can_run("a_failing_start_reports_and_leaves_nothing") {
        return;
    }
    let sb = Sandbox::new();
    // A bundle directory that does not exist.
    let b = sb.bundle();
    let mut opts = sb.start_opts(&b);
    opts.bundle = sb.tmp.path().join("no-such-bundle");
    let e = spawn_start(&opts).unwrap_err().to_string();
    assert!(e.contains("no-such-bundle"), "{e}");
    assert!(!opts.dir.exists(), "the shim's state dir is left");
    // A process whose binary is missing.
    let mut b2 = sb.bundle();
    b2.args(&["/no/such/binary"]);
    let opts2 = sb.start_opts(&b2);
    let e2 = spawn_start(&opts2).unwrap_err().to_string();
    assert!(e2.contains("/no/such/binary"), "{e2}");
    // A bad command line.
    let mut opts3 = sb.start_opts(&b);
    opts3.id = "bad/id".into();
    assert!(spawn_start(&opts3).is_err());

    sleep(Duration::from_millis(200));
    for (b, o) in [(&b, &opts), (&b2, &opts2)] {
        assert!(sb.leftovers(&b.id).is_empty(), "{:?}", sb.leftovers(&b.id));
        assert!(!o.dir.join("shim.sock").exists() && !o.dir.join("shim.pid").exists());
    }
    let tmp = sb.tmp.path().to_string_lossy().into_owned();
    assert!(shims_mentioning(&tmp).is_empty(), "a shim is still running");
    // A missing shim binary is an error too.
    let mut opts4 = sb.start_opts(&b);
    opts4.shim_binary = "/no/such/berth-shim".into();
    assert!(spawn_start(&opts4)
        .unwrap_err()
        .to_string()
        .contains("/no/such/berth-shim"));
}

#[test]
fn the_log_rotates_keeping_max_file_files() {
    if !can_run("the_log_rotates") {
        return;
    }
    let sb = Sandbox::new();
    let mut b = sb.bundle();
    b.sh("i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done");
    let mut opts = sb.start_opts(&b);
    opts.log_max_size = Some(2000);
    opts.log_max_file = Some(3);
    let dir = sb.run(&opts);
    assert_eq!(wait(&dir).exit_code, 0);
    let mut logs: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("container.log"))
        .collect();
    logs.sort();
    assert_eq!(
        logs,
        ["container.log", "container.log.1", "container.log.2"]
    );
    for l in &logs {
        let size = fs::metadata(dir.join(l)).unwrap().len();
        assert!(size < 2200, "{l} is {size} bytes");
    }
    let cur = log_entries(&dir, "container.log");
    assert_eq!(cur.last().unwrap()["log"], "line-299\n");
    // The three files hold the newest lines, in order, without a gap.
    let mut lines: Vec<String> = vec![];
    for l in ["container.log.2", "container.log.1", "container.log"] {
        lines.extend(
            log_entries(&dir, l)
                .iter()
                .map(|v| v["log"].as_str().unwrap().to_string()),
        );
    }
    let first: usize = lines[0].trim().trim_start_matches("line-").parse().unwrap();
    assert!(first > 0, "nothing was rotated away");
    let want: Vec<String> = (first..300).map(|i| format!("line-{i}\n")).collect();
    assert_eq!(lines, want);
}

fn memory_controller() -> bool {
    let base = Path::new("/sys/fs/cgroup");
    base.join("memory/memory.limit_in_bytes").exists()
        || fs::read_to_string(base.join("cgroup.controllers"))
            .map(|c| c.split_whitespace().any(|w| w == "memory"))
            .unwrap_or(false)
}

#[test]
fn an_oom_kill_is_recorded() {
    if !can_run("an_oom_kill_is_recorded") {
        return;
    }
    if !memory_controller() {
        eprintln!("SKIP an_oom_kill_is_recorded: no memory cgroup controller");
        return;
    }
    let sb = Sandbox::new();
    let mut b = sb.bundle();
    // dd's 100 MiB block is one allocation it fills: over a 32 MiB limit, the OOM killer.
    b.args(&["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"]);
    b.config["linux"]["resources"]["memory"] = json!({ "limit": 33554432, "swap": 33554432 });
    let dir = sb.run(&sb.start_opts(&b));
    let e = wait(&dir);
    assert_eq!(e.exit_code, 137, "{e:?}");
    assert!(e.oom_killed, "{e:?}");
    assert_eq!(read_exit(&dir).unwrap(), Some(e));
}

fn vm_rss_kib(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn an_idle_shim_is_small() {
    if !can_run("an_idle_shim_is_small") {
        return;
    }
    let sb = Sandbox::new();
    let mut b = sb.bundle();
    b.args(&["sleep", "100"]);
    let dir = sb.run(&sb.start_opts(&b));
    sleep(Duration::from_millis(300));
    let shim: i32 = fs::read_to_string(dir.join("shim.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let rss = vm_rss_kib(shim);
    let status = fs::read_to_string(format!("/proc/{shim}/status")).unwrap();
    let detail: Vec<&str> = status.lines().filter(|l| l.starts_with("Rss")).collect();
    eprintln!("idle shim VmRSS: {rss} kB {detail:?} ({SHIM})");
    // A debug build is far bigger than a release one; this only catches gross regressions.
    assert!(rss < 16 * 1024, "shim RSS {rss} kB");
    sb.container(&b.id)
        .kill(nix::sys::signal::Signal::SIGKILL, false)
        .unwrap();
    assert_eq!(wait(&dir).exit_code, 137);
}
