//! The OCI runtime spec (config.json) for a container: docker's defaults (capabilities,
//! mounts, masked paths, devices) with the user's choices from Config and HostConfig.

use crate::container::ContainerRecord;
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::path::Path;

/// docker's default capability set.
const DEFAULT_CAPS: [&str; 14] = [
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

/// Everything the spec needs besides the record.
pub struct SpecInputs<'a> {
    pub rootfs: &'a Path,
    /// (source, destination, read-only) binds, etc files included.
    pub binds: Vec<(String, String, bool)>,
    /// tmpfs destinations with their options.
    pub tmpfs: Vec<(String, String)>,
    /// Join this network namespace (container:<x> mode); None with `new_netns` makes one.
    pub netns_path: Option<String>,
    pub new_netns: bool,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// `<cgroup parent>/<id>`.
    pub cgroups_path: String,
    /// `--init`: this binary (the static shim) becomes the container's pid 1.
    pub init_binary: Option<std::path::PathBuf>,
}

/// Where `--init`'s binary is mounted in the container, as docker mounts its own.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// The capability list after `--cap-add` and `--cap-drop` (`ALL` understood).
pub fn capabilities(add: &[String], drop: &[String], privileged: bool) -> Result<Vec<String>> {
    let norm = |c: &str| {
        let u = c.to_ascii_uppercase();
        if u.starts_with("CAP_") {
            u
        } else {
            format!("CAP_{u}")
        }
    };
    let all: Vec<String> = berth_runtime::security::CAP_NAMES
        .iter()
        .map(|c| format!("CAP_{c}"))
        .collect();
    let mut caps: Vec<String> = if privileged || add.iter().any(|c| norm(c) == "CAP_ALL") {
        // All the daemon may hand out: a capability outside its own bounding set would make
        // the container's capset fail.
        let bounding = own_bounding_set();
        all.iter()
            .enumerate()
            .filter(|(bit, _)| bounding >> bit & 1 == 1)
            .map(|(_, c)| c.clone())
            .collect()
    } else {
        DEFAULT_CAPS.iter().map(|s| s.to_string()).collect()
    };
    for c in add.iter().map(|c| norm(c)).filter(|c| c != "CAP_ALL") {
        if !all.contains(&c) {
            return Err(Error::Invalid(format!("invalid capability: {c}")));
        }
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    if drop.iter().any(|c| norm(c) == "CAP_ALL") {
        caps.retain(|c| add.iter().any(|a| norm(a) == *c));
    }
    for c in drop.iter().map(|c| norm(c)) {
        if c != "CAP_ALL" && !all.contains(&c) {
            return Err(Error::Invalid(format!("invalid capability: {c}")));
        }
        caps.retain(|x| *x != c);
    }
    Ok(caps)
}

/// This process's capability bounding set (`CapBnd` in /proc/self/status); all bits when
/// it cannot be read.
fn own_bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

pub fn build(rec: &ContainerRecord, inp: &SpecInputs) -> Result<Value> {
    let cfg = &rec.config;
    let hc = &rec.host_config;
    let mut args = Vec::new();
    if inp.init_binary.is_some() {
        args.extend([INIT_PATH.to_string(), "--".into()]);
    }
    args.push(rec.path.clone());
    args.extend(rec.args.iter().cloned());
    let mut env = cfg.env.clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", hostname(rec)));
    }
    if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let caps = capabilities(
        hc.cap_add.as_deref().unwrap_or_default(),
        hc.cap_drop.as_deref().unwrap_or_default(),
        hc.privileged,
    )?;
    let no_new_privs = hc.security_opt.iter().flatten().any(|o| {
        matches!(
            o.as_str(),
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true"
        )
    });
    let cwd = if cfg.working_dir.is_empty() {
        "/"
    } else {
        &cfg.working_dir
    };

    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={}", if hc.shm_size > 0 { hc.shm_size } else { 64 << 20 })]}),
    ];
    if let Some(b) = &inp.init_binary {
        mounts.push(
            json!({"destination": INIT_PATH, "type": "bind", "source": b,
            "options": ["bind", "ro", "nosuid", "nodev"]}),
        );
    }
    for (src, dst, ro) in &inp.binds {
        let mut opts = vec!["rbind", "rprivate"];
        if *ro {
            opts.push("ro");
        }
        mounts.push(json!({"destination": dst, "type": "bind", "source": src, "options": opts}));
    }
    for (dst, o) in &inp.tmpfs {
        let mut opts = vec![
            "nosuid".to_string(),
            "nodev".to_string(),
            "noexec".to_string(),
        ];
        opts.extend(o.split(',').filter(|s| !s.is_empty()).map(str::to_string));
        mounts
            .push(json!({"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": opts}));
    }

    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
        json!({"type": "cgroup"}),
    ];
    if let Some(p) = &inp.netns_path {
        namespaces.push(json!({"type": "network", "path": p}));
    } else if inp.new_netns {
        namespaces.push(json!({"type": "network"}));
    }

    let mut resources = crate::resources::block(hc);
    resources["devices"] = json!([{"allow": false, "access": "rwm"}]);

    let mut spec = json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": cfg.tty,
            "user": {"uid": inp.uid, "gid": inp.gid, "additionalGids": inp.additional_gids},
            "args": args,
            "env": env,
            "cwd": cwd,
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
            "noNewPrivileges": no_new_privs,
        },
        "root": {"path": inp.rootfs, "readonly": hc.readonly_rootfs},
        "hostname": hostname(rec),
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
            "resources": resources,
            "cgroupsPath": inp.cgroups_path,
            "maskedPaths": [
                "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ],
        },
    });
    if let Some(p) = crate::seccomp::profile(
        hc.security_opt.as_deref().unwrap_or_default(),
        &caps,
        hc.privileged,
    )? {
        spec["linux"]["seccomp"] = p;
    }
    if hc.privileged {
        spec["linux"]["maskedPaths"] = json!([]);
        spec["linux"]["readonlyPaths"] = json!([]);
        spec["linux"]["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
    }
    if !cfg.domainname.is_empty() {
        spec["domainname"] = json!(cfg.domainname);
    }
    Ok(spec)
}

/// The container's hostname: `-h`, else the short id.
pub fn hostname(rec: &ContainerRecord) -> String {
    if rec.config.hostname.is_empty() {
        rec.short_id().to_string()
    } else {
        rec.config.hostname.clone()
    }
}

/// `-u`: `uid[:gid]` or `name[:group]` resolved in the container's /etc/passwd and
/// /etc/group. Returns uid, gid and the user's supplementary groups.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>)> {
    if user.is_empty() {
        return Ok((0, 0, Vec::new()));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    // Resolved inside the rootfs: an image's /etc/passwd may be a symlink to anywhere.
    let read = |p: &str| {
        berth_runtime::mounts::resolve_in_root(rootfs, std::path::Path::new(p))
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    let passwd = read("/etc/passwd");
    let group = read("/etc/group");
    let (uid, mut gid, uname) = match u.parse::<u32>() {
        Ok(n) => {
            let row = passwd
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 3 && f[2] == u);
            (
                n,
                row.as_ref().and_then(|f| f[3].parse().ok()).unwrap_or(0),
                row.map(|f| f[0].to_string()),
            )
        }
        Err(_) => {
            let f = passwd
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 3 && f[0] == u)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "unable to find user {u}: no matching entries in passwd file"
                    ))
                })?;
            (
                f[2].parse().unwrap_or(0),
                f[3].parse().unwrap_or(0),
                Some(u.to_string()),
            )
        }
    };
    if let Some(g) = g {
        gid = lookup_group(&group, g)?;
    }
    let mut extra = Vec::new();
    if let Some(name) = uname {
        for f in group.lines().map(|l| l.split(':').collect::<Vec<_>>()) {
            if f.len() > 3 && f[3].split(',').any(|m| m == name) {
                if let Ok(n) = f[2].parse::<u32>() {
                    if n != gid {
                        extra.push(n);
                    }
                }
            }
        }
    }
    Ok((uid, gid, extra))
}

/// A group by number, or by name in the text of an /etc/group.
pub(crate) fn lookup_group(group_file: &str, g: &str) -> Result<u32> {
    if let Ok(n) = g.parse::<u32>() {
        return Ok(n);
    }
    group_file
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[0] == g)
        .and_then(|f| f[2].parse().ok())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "unable to find group {g}: no matching entries in group file"
            ))
        })
}
