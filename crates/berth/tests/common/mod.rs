//! Harness for the `berth runtime` integration tests: which runtime binary to drive, OCI bundles
//! built from a static busybox, a per-test state root, and a guard that deletes every container
//! a test created and fails the test when anything (state entry, cgroup dir, mount) is left.
//!
//! The runtime under test is `berth runtime`; `BERTH_TEST_RUNTIME=runc` (or `crun`, or any
//! path) swaps it for another runc-compatible binary, which is how the scenarios themselves are
//! proven. Tests that compare with runc also run the same body with `runc` when it is installed.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long one runtime command may take before the harness kills it.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Runtimes

/// A runc-compatible command line: a binary and the arguments that come before the global flags.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub name: String,
    pub bin: PathBuf,
    pub prefix: Vec<String>,
}

impl Runtime {
    /// `berth runtime`: `$BERTH_TEST_BIN` (scripts/test.sh points it at the statically linked
    /// binary scripts/build.sh makes, as berth ships), else the one cargo built.
    pub fn berth() -> Runtime {
        Runtime {
            name: "berth".into(),
            bin: std::env::var_os("BERTH_TEST_BIN")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_berth"))),
            prefix: vec!["runtime".into()],
        }
    }

    /// `runc` from PATH, when installed.
    pub fn runc() -> Option<Runtime> {
        which("runc").map(|bin| Runtime {
            name: "runc".into(),
            bin,
            prefix: vec![],
        })
    }

    /// The runtime these tests judge: berth, unless `BERTH_TEST_RUNTIME` names another one
    /// (`runc`, `crun`, or a path), which proves the test logic against a reference runtime.
    pub fn under_test() -> Runtime {
        match std::env::var("BERTH_TEST_RUNTIME") {
            Ok(name) if !name.is_empty() && name != "berth" => {
                let bin = if name.contains('/') {
                    PathBuf::from(&name)
                } else {
                    which(&name).unwrap_or_else(|| panic!("BERTH_TEST_RUNTIME={name}: not in PATH"))
                };
                let short = bin.file_name().unwrap().to_string_lossy().into_owned();
                Runtime {
                    name: short,
                    bin,
                    prefix: vec![],
                }
            }
            _ => Runtime::berth(),
        }
    }

    pub fn is_berth(&self) -> bool {
        self.name == "berth"
    }

    pub fn is_runc(&self) -> bool {
        self.name == "runc"
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&format!("{path}:/usr/sbin:/sbin:/usr/bin:/bin"))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// True when the tests can run: root, and a static busybox to build root filesystems from.
/// Prints why not otherwise (the caller returns, so the test is reported as passed-by-skip
/// with the reason on stderr).
pub fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP {test}: needs root (namespaces, cgroups, mounts)");
        return false;
    }
    if busybox().is_none() {
        eprintln!("SKIP {test}: no static busybox (apt-get install busybox-static)");
        return false;
    }
    true
}

/// Runs `body` against the runtime under test, then against runc when runc is installed and is
/// not already the runtime under test: the same scenario must hold for both.
pub fn each_runtime(test: &str, body: impl Fn(&Runtime)) {
    if !can_run(test) {
        return;
    }
    let rt = Runtime::under_test();
    eprintln!("== {test}: {}", rt.name);
    body(&rt);
    match Runtime::runc() {
        Some(runc) if !rt.is_runc() => {
            eprintln!("== {test}: runc (reference)");
            body(&runc);
        }
        Some(_) => {}
        None => eprintln!("{test}: runc is not installed, skipping the runc half"),
    }
}

/// Runs `body` against the runtime under test and against runc, and asserts both give the same
/// value (when runc is installed and is not the runtime under test). Returns the value of the
/// runtime under test, or None when the test is skipped.
pub fn compare_with_runc<T: PartialEq + std::fmt::Debug>(
    test: &str,
    body: impl Fn(&Runtime) -> T,
) -> Option<T> {
    if !can_run(test) {
        return None;
    }
    let rt = Runtime::under_test();
    eprintln!("== {test}: {}", rt.name);
    let ours = body(&rt);
    match Runtime::runc() {
        Some(runc) if !rt.is_runc() => {
            eprintln!("== {test}: runc (reference)");
            let theirs = body(&runc);
            assert_eq!(
                ours, theirs,
                "{test}: {} and runc disagree (left: {})",
                rt.name, rt.name
            );
        }
        Some(_) => {}
        None => eprintln!("{test}: runc is not installed, skipping the comparison"),
    }
    Some(ours)
}

/// Runs `body` against the runtime under test only (berth-specific behaviour).
pub fn under_test_only(test: &str, body: impl Fn(&Runtime)) {
    if !can_run(test) {
        return;
    }
    let rt = Runtime::under_test();
    eprintln!("== {test}: {}", rt.name);
    body(&rt);
}

// ---------------------------------------------------------------------------------------------
// Processes

/// What a command did: exit code (128+N when killed by signal N, -1 on timeout) and its output.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// Panics with the whole output unless the command exited 0.
    pub fn expect_ok(self, what: &str) -> Output {
        assert!(self.ok(), "{what} failed: {self:#?}");
        self
    }
}

/// Runs `cmd` with stdin from /dev/null and stdout/stderr captured, killing it after `timeout`.
/// Pipes held open by grandchildren (a container that outlived the runtime) do not block the
/// caller for more than a few seconds.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        thread::sleep(Duration::from_millis(5));
    };
    let code = if timed_out {
        -1
    } else {
        use std::os::unix::process::ExitStatusExt;
        status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
    };
    let grace = Instant::now() + Duration::from_secs(3);
    let stdout = out.finish(grace);
    let stderr = err.finish(grace);
    Output {
        code,
        stdout,
        stderr,
        timed_out,
    }
}

struct Drain {
    buf: Arc<Mutex<Vec<u8>>>,
    handle: thread::JoinHandle<()>,
}

fn drain(mut r: impl Read + Send + 'static) -> Drain {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = buf.clone();
    let handle = thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    Drain { buf, handle }
}

impl Drain {
    fn finish(self, deadline: Instant) -> String {
        while !self.handle.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let bytes = self.buf.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Polls `f` every 20 ms until it is true or `timeout` passes; returns its last answer.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Whether host pid `pid` is alive (exists and is not a zombie).
pub fn pid_alive(pid: i64) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .map(|s| !s.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Root filesystem and bundles

/// Path of a statically linked busybox on the host.
pub fn busybox() -> Option<&'static Path> {
    static BB: OnceLock<Option<PathBuf>> = OnceLock::new();
    BB.get_or_init(|| {
        ["/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    })
    .as_deref()
}

fn busybox_applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
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

/// Builds `dir` into a root filesystem: /bin/busybox with a symlink per applet, and the empty
/// mount points (/proc, /sys, /dev, /tmp, /etc). Everything is world-readable so that a user
/// namespace mapped to an unprivileged host uid can use it.
pub fn make_rootfs(dir: &Path) {
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy(busybox().unwrap(), dir.join("bin/busybox")).unwrap();
    fs::set_permissions(dir.join("bin/busybox"), fs::Permissions::from_mode(0o755)).unwrap();
    for applet in busybox_applets() {
        let _ = symlink("busybox", dir.join("bin").join(applet));
    }
}

/// The default capability set of Docker and of `runc spec --rootless`-less configs used here.
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// CapEff of a process holding exactly [`DEFAULT_CAPS`].
pub const DEFAULT_CAPS_HEX: &str = "00000000a80425fb";

/// A config.json in the shape of `runc spec`, with terminal off, a writable root, the default 14
/// capabilities, a cgroup namespace, and `linux.cgroupsPath` = `/berth-test-<id>` (top level, so deleting the container leaves no parent dir).
pub fn base_config(id: &str) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": DEFAULT_CAPS,
                "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": false
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "berth-test",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "cgroupsPath": cgroups_path(id),
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

pub fn cgroups_path(id: &str) -> String {
    format!("/berth-test-{id}")
}

/// Sets `value` at a JSON pointer, creating missing objects on the way.
pub fn set_pointer(root: &mut Value, pointer: &str, value: Value) {
    let mut cur = root;
    let keys: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, key) in keys.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let obj = cur.as_object_mut().unwrap();
        if i == keys.len() - 1 {
            obj.insert((*key).to_owned(), value);
            return;
        }
        cur = obj.entry((*key).to_owned()).or_insert_with(|| json!({}));
    }
}

/// An OCI bundle: `dir/config.json` and `dir/rootfs`, for the container `id`.
pub struct Bundle {
    pub id: String,
    pub dir: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn path_str(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// Writes config.json (every runtime call through [`Sandbox`] does this first).
    pub fn save(&self) {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    pub fn set(&mut self, pointer: &str, value: Value) -> &mut Self {
        set_pointer(&mut self.config, pointer, value);
        self
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.set("/process/args", json!(args))
    }

    /// `sh -c script` as the container process.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    pub fn hostname(&mut self, name: &str) -> &mut Self {
        self.set("/hostname", json!(name))
    }

    pub fn readonly_root(&mut self) -> &mut Self {
        self.set("/root/readonly", json!(true))
    }

    pub fn user(&mut self, uid: u32, gid: u32, additional: &[u32]) -> &mut Self {
        self.set(
            "/process/user",
            json!({ "uid": uid, "gid": gid, "additionalGids": additional }),
        )
    }

    /// Sets `linux.resources.<key>` (memory, cpu, pids, ...).
    pub fn resource(&mut self, key: &str, value: Value) -> &mut Self {
        self.set(&format!("/linux/resources/{key}"), value)
    }

    pub fn seccomp(&mut self, profile: Value) -> &mut Self {
        self.set("/linux/seccomp", profile)
    }

    /// Appends a hook of `kind` (prestart, createRuntime, poststart, poststop, ...).
    pub fn hook(&mut self, kind: &str, path: &str, args: &[&str]) -> &mut Self {
        let hook =
            json!({ "path": path, "args": args, "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] });
        let hooks = &mut self.config["hooks"];
        if !hooks.is_object() {
            *hooks = json!({});
        }
        let list = hooks
            .as_object_mut()
            .unwrap()
            .entry(kind.to_owned())
            .or_insert_with(|| json!([]));
        list.as_array_mut().unwrap().push(hook);
        self
    }

    pub fn remove_namespace(&mut self, ty: &str) -> &mut Self {
        let ns = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != ty);
        self
    }

    /// Adds (or replaces) a namespace, joining `path` when given.
    /// A new user namespace mapping 65536 ids from container 0 to `host_uid`/`host_gid`.
    pub fn user_ns(&mut self, host_uid: u64, host_gid: u64) -> &mut Self {
        self.namespace("user", None)
            .set(
                "/linux/uidMappings",
                json!([{ "containerID": 0, "hostID": host_uid, "size": 65536 }]),
            )
            .set(
                "/linux/gidMappings",
                json!([{ "containerID": 0, "hostID": host_gid, "size": 65536 }]),
            )
    }

    pub fn namespace(&mut self, ty: &str, path: Option<&str>) -> &mut Self {
        self.remove_namespace(ty);
        let mut n = json!({ "type": ty });
        if let Some(p) = path {
            n["path"] = json!(p);
        }
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(n);
        self
    }

    /// Path of a file inside the root filesystem, as the host sees it.
    pub fn host_path(&self, inside: &str) -> PathBuf {
        self.rootfs().join(inside.trim_start_matches('/'))
    }
}

// ---------------------------------------------------------------------------------------------
// cgroups

/// The cgroup hierarchies mounted under /sys/fs/cgroup (each v1 controller dir, or the single
/// v2 root), deduplicated (cpu and cpuacct may be one hierarchy behind two names).
pub fn cgroup_roots() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if is_cgroup2(base) {
        return vec![base.to_path_buf()];
    }
    let mut seen = BTreeSet::new();
    let mut roots = Vec::new();
    if let Ok(rd) = fs::read_dir(base) {
        for e in rd.flatten() {
            let p = e.path();
            let Ok(real) = fs::canonicalize(&p) else {
                continue;
            };
            if real.is_dir() && seen.insert(real.clone()) {
                roots.push(p);
            }
        }
    }
    roots.sort();
    roots
}

pub fn is_cgroup2(path: &Path) -> bool {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: statfs writes into the zeroed struct we own; c is a valid C string.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type == libc::CGROUP2_SUPER_MAGIC
}

/// Whether the host uses the unified (v2) hierarchy only.
pub fn cgroup_v2() -> bool {
    is_cgroup2(Path::new("/sys/fs/cgroup"))
}

/// Existing cgroup directories of container `id`, in every hierarchy.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let rel = cgroups_path(id);
    cgroup_roots()
        .into_iter()
        .map(|r| r.join(rel.trim_start_matches('/')))
        .filter(|p| p.is_dir())
        .collect()
}

/// Path of a cgroup file of container `id`: `v1` is (controller, file) on cgroup v1, `v2` the
/// file name on the unified hierarchy.
pub fn cgroup_file(id: &str, v1: (&str, &str), v2: &str) -> PathBuf {
    let rel = cgroups_path(id);
    let rel = rel.trim_start_matches('/');
    if cgroup_v2() {
        Path::new("/sys/fs/cgroup").join(rel).join(v2)
    } else {
        Path::new("/sys/fs/cgroup").join(v1.0).join(rel).join(v1.1)
    }
}

pub fn read_trim(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_owned()
}

/// Total CPU time used by container `id`'s cgroup, in nanoseconds.
pub fn cgroup_cpu_ns(id: &str) -> u64 {
    if cgroup_v2() {
        let stat = read_trim(&cgroup_file(id, ("", ""), "cpu.stat"));
        let usec: u64 = stat
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .expect("usage_usec in cpu.stat")
            .parse()
            .unwrap();
        usec * 1000
    } else {
        read_trim(&cgroup_file(id, ("cpuacct", "cpuacct.usage"), ""))
            .parse()
            .unwrap()
    }
}

/// Host pids in container `id`'s cgroup (the pids hierarchy on v1).
pub fn cgroup_pids(id: &str) -> Vec<i64> {
    let p = cgroup_file(id, ("pids", "cgroup.procs"), "cgroup.procs");
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Kills whatever is still in `dir` and removes it (children first). Best effort.
fn remove_cgroup_dir(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_dir(&e.path());
            }
        }
    }
    let _ = fs::write(dir.join("freezer.state"), "THAWED");
    let _ = fs::write(dir.join("cgroup.freeze"), "0");
    for _ in 0..100 {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// The sandbox: one state root per test and runtime, and the clean-up guard

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique container id: `bt-<pid>-<counter>`.
pub fn unique_id() -> String {
    format!(
        "bt-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// One test's view of one runtime: a temp dir holding bundles and the `--root` state dir.
/// Dropping it runs `delete --force` on every container it made, then fails the test if a
/// state entry, a cgroup dir or a mount is left behind (after removing them).
pub struct Sandbox {
    pub rt: Runtime,
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    ids: RefCell<Vec<String>>,
    netns: RefCell<Vec<String>>,
}

impl Sandbox {
    pub fn new(rt: &Runtime) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("berth-rt-")
            .tempdir()
            .unwrap();
        // World-traversable, so a container in a user namespace can reach its rootfs.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.path().join("state");
        fs::create_dir(&root).unwrap();
        Sandbox {
            rt: rt.clone(),
            dir,
            root,
            ids: RefCell::new(vec![]),
            netns: RefCell::new(vec![]),
        }
    }

    /// A fresh bundle with a new id, registered for clean-up.
    pub fn bundle(&self) -> Bundle {
        let id = unique_id();
        let dir = self.dir.path().join(&id);
        fs::create_dir(&dir).unwrap();
        make_rootfs(&dir.join("rootfs"));
        self.track(&id);
        Bundle {
            config: base_config(&id),
            id,
            dir,
        }
    }

    /// Registers `id` for `delete --force` and the leftover checks at drop.
    pub fn track(&self, id: &str) {
        let mut ids = self.ids.borrow_mut();
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }

    /// A command line for the runtime: `<bin> <prefix> --root <root> <args>`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.rt.bin);
        c.args(&self.rt.prefix)
            .arg("--root")
            .arg(&self.root)
            .args(args);
        c
    }

    /// Runs the runtime with `args`, capturing its output.
    pub fn cmd(&self, args: &[&str]) -> Output {
        run_with_timeout(&mut self.command(args), CMD_TIMEOUT)
    }

    /// `run --bundle B ID` in the foreground: the container's stdio is the runtime's.
    pub fn run(&self, b: &Bundle) -> Output {
        b.save();
        self.cmd(&["run", "--bundle", b.path_str(), &b.id])
    }

    /// Runs a command whose container outlives it (create, run --detach, exec --detach): stdout
    /// and stderr go to `<bundle>/<tag>.out` / `.err` files, which the container inherits, and
    /// are read back once the runtime exits.
    pub fn detached(&self, b: &Bundle, tag: &str, args: &[&str]) -> Output {
        let out_p = b.dir.join(format!("{tag}.out"));
        let err_p = b.dir.join(format!("{tag}.err"));
        let mut c = self.command(args);
        c.stdin(Stdio::null())
            .stdout(fs::File::create(&out_p).unwrap())
            .stderr(fs::File::create(&err_p).unwrap());
        let mut child = c.spawn().unwrap();
        let deadline = Instant::now() + CMD_TIMEOUT;
        let (code, timed_out) = loop {
            if let Some(st) = child.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt;
                break (
                    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)),
                    false,
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break (-1, true);
            }
            thread::sleep(Duration::from_millis(5));
        };
        Output {
            code,
            stdout: fs::read_to_string(out_p).unwrap_or_default(),
            stderr: fs::read_to_string(err_p).unwrap_or_default(),
            timed_out,
        }
    }

    /// `create --bundle B --pid-file B/pid ID`, container stdio to `B/create.{out,err}`.
    pub fn create(&self, b: &Bundle) -> Output {
        b.save();
        let pid_file = b.dir.join("pid");
        self.detached(
            b,
            "create",
            &[
                "create",
                "--bundle",
                b.path_str(),
                "--pid-file",
                pid_file.to_str().unwrap(),
                &b.id,
            ],
        )
    }

    /// create + start, panicking on failure; returns the container's host pid.
    pub fn start_container(&self, b: &Bundle) -> i64 {
        self.create(b).expect_ok("create");
        self.cmd(&["start", &b.id]).expect_ok("start");
        self.pid_of(&b.id)
    }

    /// `state ID`, parsed.
    pub fn state(&self, id: &str) -> Value {
        let o = self.cmd(&["state", id]).expect_ok("state");
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("state JSON: {e}: {}", o.stdout))
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn pid_of(&self, id: &str) -> i64 {
        self.state(id)["pid"].as_i64().expect("state has a pid")
    }

    /// Waits until `state ID` reports `status`.
    pub fn wait_status(&self, id: &str, status: &str, timeout: Duration) -> bool {
        wait_until(timeout, || {
            let o = self.cmd(&["state", id]);
            o.ok()
                && serde_json::from_str::<Value>(&o.stdout)
                    .map(|v| v["status"] == status)
                    .unwrap_or(false)
        })
    }

    /// `exec ID args...` in the foreground.
    pub fn exec(&self, id: &str, args: &[&str]) -> Output {
        let mut a = vec!["exec", id];
        a.extend_from_slice(args);
        self.cmd(&a)
    }

    /// A network namespace at /run/netns/<name>, removed at drop (`ip netns add`).
    pub fn netns(&self) -> String {
        let name = unique_id();
        let o = run_with_timeout(
            Command::new("ip").args(["netns", "add", &name]),
            CMD_TIMEOUT,
        );
        assert!(o.ok(), "ip netns add {name}: {o:?}");
        self.netns.borrow_mut().push(name.clone());
        name
    }

    /// Leftovers of container `id`: its state entry, cgroup dirs, host mounts under the bundle.
    pub fn leftovers(&self, id: &str) -> Vec<String> {
        let mut left = Vec::new();
        if self.root.join(id).exists() {
            left.push(format!("state entry {}", self.root.join(id).display()));
        }
        for d in cgroup_dirs(id) {
            left.push(format!("cgroup dir {}", d.display()));
        }
        let bundle = self.dir.path().join(id);
        for m in host_mounts_under(&bundle) {
            left.push(format!("host mount {m}"));
        }
        left
    }
}

/// Mount points in the host (this process's) mount namespace at or below `dir`.
pub fn host_mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_str().unwrap();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| *mp == prefix || mp.starts_with(&format!("{prefix}/")))
        .map(str::to_owned)
        .collect()
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let mut left = Vec::new();
        for id in self.ids.borrow().iter() {
            let o = self.cmd(&["delete", "--force", id]);
            let _ = o;
            let l = self.leftovers(id);
            if !l.is_empty() {
                left.push(format!("{id}: {}", l.join(", ")));
            }
            for d in cgroup_dirs(id) {
                remove_cgroup_dir(&d);
            }
            let mut mounts = host_mounts_under(&self.dir.path().join(id));
            mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for m in mounts {
                let c = std::ffi::CString::new(m).unwrap();
                // SAFETY: c is a valid C string; a lazy unmount of our own temp path.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        for ns in self.netns.borrow().iter() {
            let _ = run_with_timeout(Command::new("ip").args(["netns", "del", ns]), CMD_TIMEOUT);
        }
        if !left.is_empty() && !thread::panicking() {
            panic!(
                "{} left things behind after delete --force:\n{}",
                self.rt.name,
                left.join("\n")
            );
        }
    }
}
