//! HostConfig options that become kernel settings in the spec: namespaces shared with the
//! host or with another container (`--pid`, `--ipc`, `--uts`), rlimits (`--ulimit`),
//! sysctls, the OOM score, extra groups (`--group-add`) and device nodes (`--device`); and
//! dockerd's checks of them when a container is created, with its words.

use crate::error::{Error, Result};
use crate::model::{DeviceMapping, HostConfig};
use serde_json::{json, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The rlimits docker knows (`RLIMIT_<NAME>`).
const ULIMITS: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// The sysctls of the IPC namespace (besides `fs.mqueue.*`).
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// How a container gets one of its namespaces.
#[derive(Debug, Clone, PartialEq)]
pub enum Join {
    /// A new one of its own.
    Own,
    /// The daemon's.
    Host,
    /// Another container's: its init's pid.
    Container(i32),
}

/// What the container's /dev/shm is.
#[derive(Debug, Clone, PartialEq)]
pub enum Shm {
    /// A tmpfs of its own, made by the runtime (the spec's).
    Private,
    /// None (`--ipc none`).
    Absent,
    /// A bind of this host directory: the host's /dev/shm, or a shareable container's tmpfs
    /// that the engine mounted (see [`mount_shm`]).
    Bind(String),
}

/// The namespace modes resolved at start.
#[derive(Debug, Clone)]
pub struct Shared {
    pub pid: Join,
    pub ipc: Join,
    pub shm: Shm,
    pub uts_host: bool,
}

/// Where a shareable container's /dev/shm is mounted on the host, in its directory.
pub fn shm_dir(container_dir: &Path) -> PathBuf {
    container_dir.join("shm")
}

/// Mount a shareable container's /dev/shm on the host (`size` bytes), so that containers
/// joining its IPC namespace bind the same tmpfs, as dockerd does.
pub fn mount_shm(container_dir: &Path, size: i64) -> Result<String> {
    use nix::mount::{mount, MsFlags};
    let dir = shm_dir(container_dir);
    unmount_shm(container_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Invalid(format!("creating {}: {e}", dir.display())))?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let data = format!("mode=1777,size={size}");
    mount(Some("shm"), &dir, Some("tmpfs"), flags, Some(data.as_str()))
        .map_err(|e| Error::Invalid(format!("mounting /dev/shm at {}: {e}", dir.display())))?;
    Ok(dir.to_string_lossy().into_owned())
}

/// Unmount what [`mount_shm`] mounted, if it is there.
pub fn unmount_shm(container_dir: &Path) {
    use nix::mount::{umount2, MntFlags};
    let dir = shm_dir(container_dir);
    let gone = umount2(&dir, MntFlags::UMOUNT_NOFOLLOW)
        .or_else(|_| umount2(&dir, MntFlags::UMOUNT_NOFOLLOW | MntFlags::MNT_DETACH));
    if gone.is_ok() {
        let _ = std::fs::remove_dir(&dir);
    }
}

/// The container a `container:<name>` mode names, if it is one.
pub fn target(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

/// dockerd's checks at create. `hostname` is `-h`; `network_mode` the container's.
pub fn check(hc: &HostConfig, hostname: &str, network_mode: &str) -> Result<()> {
    let bad = |m: String| Err(Error::Invalid(m));
    for u in hc.ulimits.iter().flatten() {
        if !ULIMITS.contains(&u.name.as_str()) {
            return bad(format!("invalid ulimit type: {}", u.name));
        }
        if u.soft > u.hard {
            return bad(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                u.soft, u.hard
            ));
        }
    }
    if !(-1000..=1000).contains(&hc.oom_score_adj) {
        return bad(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            hc.oom_score_adj
        ));
    }
    let pid_ok = matches!(hc.pid_mode.as_str(), "" | "host") || target(&hc.pid_mode).is_some();
    if !pid_ok {
        return bad(format!("invalid PID mode: {}", hc.pid_mode));
    }
    let ipc_ok = matches!(
        hc.ipc_mode.as_str(),
        "" | "private" | "shareable" | "none" | "host"
    ) || target(&hc.ipc_mode).is_some();
    if !ipc_ok {
        return bad(format!("invalid IPC mode: {}", hc.ipc_mode));
    }
    if !matches!(hc.uts_mode.as_str(), "" | "host") {
        return bad(format!("invalid UTS mode: {}", hc.uts_mode));
    }
    if !matches!(hc.userns_mode.as_str(), "" | "host") {
        return bad(format!(
            "invalid userns mode {:?}: berth has no user namespace remapping; only \"host\"",
            hc.userns_mode
        ));
    }
    if !matches!(
        hc.runtime.as_str(),
        "" | "berth" | "runc" | "io.containerd.runc.v2"
    ) {
        return bad(format!("unknown or invalid runtime name: {}", hc.runtime));
    }
    if hc.storage_opt.as_ref().is_some_and(|o| !o.is_empty()) {
        return bad(
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"
                .into(),
        );
    }
    if !matches!(hc.volume_driver.as_str(), "" | "local") {
        return bad(format!(
            "error looking up volume plugin {0}: plugin \"{0}\" not found",
            hc.volume_driver
        ));
    }
    if hc.device_requests.as_ref().is_some_and(|r| !r.is_empty()) {
        return bad("could not select device driver \"\" with capabilities: [[gpu]]".into());
    }
    if !matches!(hc.cgroupns_mode.as_str(), "" | "private" | "host") {
        return bad(format!(
            "invalid cgroup namespace mode: {}",
            hc.cgroupns_mode
        ));
    }
    if hc.uts_mode == "host" && !hostname.is_empty() {
        return bad("Conflicting options: hostname and the UTS mode".into());
    }
    for k in hc.sysctls.iter().flatten().map(|(k, _)| k) {
        let (shared, ns) = if IPC_SYSCTLS.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
            (hc.ipc_mode == "host", "IPC")
        } else if k.starts_with("net.") {
            (network_mode == "host", "network")
        } else if k == "kernel.hostname" || k == "kernel.domainname" {
            (hc.uts_mode == "host", "UTS")
        } else {
            return bad(format!(
                "sysctl {k:?} is not in a separate kernel namespace"
            ));
        };
        if shared {
            return bad(format!("sysctl {k:?} not allowed in host {ns} namespace"));
        }
    }
    for d in hc.devices.iter().flatten() {
        if !d.cgroup_permissions.chars().all(|c| "rwm".contains(c)) {
            return bad(format!("invalid device mode: {}", d.cgroup_permissions));
        }
        if !d.path_in_container.is_empty() && !d.path_in_container.starts_with('/') {
            return bad(format!(
                "invalid device path in container: {} (must be absolute)",
                d.path_in_container
            ));
        }
        std::fs::metadata(&d.path_on_host).map_err(|e| {
            Error::Invalid(format!(
                "error gathering device information while adding custom device {:?}: {e}",
                d.path_on_host
            ))
        })?;
    }
    Ok(())
}

/// Put the options into `spec` (from `spec::build`). `rootfs` holds the image's /etc/group.
pub fn apply(spec: &mut Value, hc: &HostConfig, shared: &Shared, rootfs: &Path) -> Result<()> {
    share_namespaces(spec, shared);
    if hc.cgroupns_mode == "host" {
        if let Some(list) = spec["linux"]["namespaces"].as_array_mut() {
            list.retain(|n| n["type"] != "cgroup");
        }
    }
    if let Some(u) = hc.ulimits.as_ref().filter(|u| !u.is_empty()) {
        let rl: Vec<Value> = u
            .iter()
            .map(|u| {
                let name = format!("RLIMIT_{}", u.name.to_ascii_uppercase());
                json!({"type": name, "soft": u.soft, "hard": u.hard})
            })
            .collect();
        spec["process"]["rlimits"] = json!(rl);
    }
    if let Some(s) = hc.sysctls.as_ref().filter(|s| !s.is_empty()) {
        spec["linux"]["sysctl"] = json!(s);
    }
    if hc.oom_score_adj != 0 {
        spec["process"]["oomScoreAdj"] = json!(hc.oom_score_adj);
    }
    let groups = hc.group_add.iter().flatten();
    let gids = groups
        .map(|g| group_id(rootfs, g))
        .collect::<Result<Vec<u32>>>()?;
    if let Some(list) = spec["process"]["user"]["additionalGids"].as_array_mut() {
        list.extend(gids.into_iter().map(|g| json!(g)));
    }
    for d in hc.devices.iter().flatten() {
        for node in device_nodes(d)? {
            push_device(spec, &node);
        }
    }
    Ok(())
}

/// `--pid`, `--ipc`, `--uts`: drop the namespace (the daemon's is kept), or join another
/// container's; its /dev/shm comes with a shared IPC namespace.
fn share_namespaces(spec: &mut Value, s: &Shared) {
    let ns_of = |pid: i32, t: &str| format!("/proc/{pid}/ns/{t}");
    let mut drop = Vec::new();
    if let Some(list) = spec["linux"]["namespaces"].as_array_mut() {
        for (t, j) in [("pid", &s.pid), ("ipc", &s.ipc)] {
            match j {
                Join::Own => {}
                Join::Host => drop.push(t),
                Join::Container(pid) => {
                    for ns in list.iter_mut().filter(|n| n["type"] == t) {
                        ns["path"] = json!(ns_of(*pid, t));
                    }
                }
            }
        }
        if s.uts_host {
            drop.push("uts");
        }
        list.retain(|n| !drop.iter().any(|t| n["type"] == *t));
    }
    if s.uts_host {
        if let Some(o) = spec.as_object_mut() {
            o.remove("hostname");
            o.remove("domainname");
        }
    }
    let shm = match &s.shm {
        Shm::Private => return,
        Shm::Absent => None,
        Shm::Bind(src) => Some(src.clone()),
    };
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        mounts.retain(|m| m["destination"] != "/dev/shm");
        if let Some(src) = shm {
            mounts.push(json!({
                "destination": "/dev/shm", "type": "bind", "source": src,
                "options": ["rbind", "rprivate", "nosuid", "nodev", "noexec"]
            }));
        }
    }
}

/// A group by number, or by name in the image's /etc/group.
fn group_id(rootfs: &Path, g: &str) -> Result<u32> {
    let text = berth_runtime::mounts::resolve_in_root(rootfs, Path::new("/etc/group"))
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    crate::spec::lookup_group(&text, g)
}

/// A device node to make in the container.
#[derive(Debug, PartialEq)]
struct Node {
    path: String,
    kind: &'static str,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    access: String,
}

/// The nodes a `--device` names: the node itself, or every node under a directory.
fn device_nodes(d: &DeviceMapping) -> Result<Vec<Node>> {
    let host = PathBuf::from(&d.path_on_host);
    let inside = if d.path_in_container.is_empty() {
        d.path_on_host.clone()
    } else {
        d.path_in_container.clone()
    };
    let access = if d.cgroup_permissions.is_empty() {
        "rwm".to_string()
    } else {
        d.cgroup_permissions.clone()
    };
    let gather = |e: std::io::Error| {
        Error::Invalid(format!(
            "error gathering device information while adding custom device {:?}: {e}",
            d.path_on_host
        ))
    };
    let mut out = Vec::new();
    let mut todo = vec![(host, inside)];
    while let Some((h, c)) = todo.pop() {
        let m = std::fs::metadata(&h).map_err(gather)?;
        let ft = m.file_type();
        let kind = if ft.is_char_device() {
            "c"
        } else if ft.is_block_device() {
            "b"
        } else if ft.is_dir() {
            for e in std::fs::read_dir(&h).map_err(gather)?.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                todo.push((e.path(), format!("{}/{name}", c.trim_end_matches('/'))));
            }
            continue;
        } else if h == Path::new(&d.path_on_host) {
            // The path named itself is neither a device nor a directory of them.
            return Err(Error::Invalid(format!(
                "error gathering device information while adding custom device {:?}: not a device node",
                d.path_on_host
            )));
        } else {
            continue;
        };
        out.push(Node {
            path: c,
            kind,
            major: libc::major(m.rdev()) as u64,
            minor: libc::minor(m.rdev()) as u64,
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            access: access.clone(),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn push_device(spec: &mut Value, n: &Node) {
    let node = json!({
        "path": n.path, "type": n.kind, "major": n.major, "minor": n.minor,
        "fileMode": n.mode, "uid": n.uid, "gid": n.gid,
    });
    match spec["linux"]["devices"].as_array_mut() {
        Some(list) => list.push(node),
        None => spec["linux"]["devices"] = json!([node]),
    }
    let rule = json!({
        "allow": true, "type": n.kind, "major": n.major, "minor": n.minor, "access": n.access,
    });
    if let Some(rules) = spec["linux"]["resources"]["devices"].as_array_mut() {
        rules.push(rule);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Ulimit;

    fn hc() -> HostConfig {
        HostConfig::default()
    }

    #[test]
    fn dockerd_refuses_what_it_refuses() {
        let cases: Vec<(HostConfig, &str, &str)> = vec![
            (
                HostConfig {
                    ulimits: Some(vec![Ulimit {
                        name: "bogus".into(),
                        soft: 1,
                        hard: 1,
                    }]),
                    ..hc()
                },
                "bridge",
                "invalid ulimit type: bogus",
            ),
            (
                HostConfig {
                    ulimits: Some(vec![Ulimit {
                        name: "nofile".into(),
                        soft: 9,
                        hard: 1,
                    }]),
                    ..hc()
                },
                "bridge",
                "ulimit soft limit must be less than or equal to hard limit: 9 > 1",
            ),
            (
                HostConfig {
                    oom_score_adj: 1001,
                    ..hc()
                },
                "bridge",
                "range for oom score adj is [-1000, 1000]",
            ),
            (
                HostConfig {
                    sysctls: Some([("kernel.panic".into(), "1".into())].into()),
                    ..hc()
                },
                "bridge",
                "sysctl \"kernel.panic\" is not in a separate kernel namespace",
            ),
            (
                HostConfig {
                    sysctls: Some([("net.ipv4.ip_forward".into(), "1".into())].into()),
                    ..hc()
                },
                "host",
                "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace",
            ),
            (
                HostConfig {
                    pid_mode: "sideways".into(),
                    ..hc()
                },
                "bridge",
                "invalid PID mode: sideways",
            ),
            (
                HostConfig {
                    devices: Some(vec![DeviceMapping {
                        path_on_host: "/dev/no-such-device".into(),
                        ..DeviceMapping::default()
                    }]),
                    ..hc()
                },
                "bridge",
                "error gathering device information while adding custom device \"/dev/no-such-device\"",
            ),
        ];
        for (h, net, want) in cases {
            let e = check(&h, "", net).expect_err(want).to_string();
            assert!(e.contains(want), "{e}");
        }
        let uts = HostConfig {
            uts_mode: "host".into(),
            ..hc()
        };
        assert!(check(&uts, "myhost", "bridge").is_err());
        let ok = HostConfig {
            sysctls: Some([("net.ipv4.ip_forward".into(), "1".into())].into()),
            ipc_mode: "container:db".into(),
            ..hc()
        };
        assert!(check(&ok, "", "bridge").is_ok());
    }

    fn base() -> Value {
        json!({
            "process": {"user": {"uid": 0, "gid": 0, "additionalGids": [10]}},
            "hostname": "abc",
            "mounts": [{"destination": "/dev/shm", "type": "tmpfs"}],
            "linux": {
                "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
                "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            },
        })
    }

    #[test]
    fn shared_namespaces_are_joined_or_left_out() {
        let mut s = base();
        let shared = Shared {
            pid: Join::Host,
            ipc: Join::Container(42),
            shm: Shm::Bind("/x/shm".into()),
            uts_host: true,
        };
        apply(&mut s, &hc(), &shared, Path::new("/nonexistent")).unwrap();
        assert_eq!(
            s["linux"]["namespaces"],
            json!([{"type": "ipc", "path": "/proc/42/ns/ipc"}, {"type": "mount"}])
        );
        assert!(s.get("hostname").is_none());
        assert_eq!(s["mounts"][0]["source"], "/x/shm");
        let mut s = base();
        let none = Shared {
            pid: Join::Own,
            ipc: Join::Own,
            shm: Shm::Absent,
            uts_host: false,
        };
        apply(&mut s, &hc(), &none, Path::new("/nonexistent")).unwrap();
        assert_eq!(s["mounts"], json!([]));
    }

    #[test]
    fn limits_groups_and_devices_reach_the_spec() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        let h = HostConfig {
            ulimits: Some(vec![Ulimit {
                name: "nofile".into(),
                soft: 100,
                hard: 200,
            }]),
            oom_score_adj: 300,
            group_add: Some(vec!["staff".into(), "1234".into()]),
            devices: Some(vec![DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/mynull".into(),
                cgroup_permissions: "rw".into(),
            }]),
            ..hc()
        };
        let mut s = base();
        let own = Shared {
            pid: Join::Own,
            ipc: Join::Own,
            shm: Shm::Private,
            uts_host: false,
        };
        apply(&mut s, &h, &own, root.path()).unwrap();
        assert_eq!(
            s["process"]["rlimits"],
            json!([{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}])
        );
        assert_eq!(s["process"]["oomScoreAdj"], 300);
        assert_eq!(
            s["process"]["user"]["additionalGids"],
            json!([10, 50, 1234])
        );
        assert_eq!(s["linux"]["devices"][0]["path"], "/dev/mynull");
        assert_eq!(s["linux"]["devices"][0]["major"], 1);
        assert_eq!(s["linux"]["devices"][0]["minor"], 3);
        assert_eq!(
            s["linux"]["resources"]["devices"][1],
            json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"})
        );
        let missing = HostConfig {
            group_add: Some(vec!["nogroup-here".into()]),
            ..hc()
        };
        let e = apply(&mut base(), &missing, &own, root.path()).unwrap_err();
        assert!(
            e.to_string().contains("unable to find group nogroup-here"),
            "{e}"
        );
    }
}
