//! A container's resource limits: the OCI `resources` block made from its `HostConfig`,
//! dockerd's checks of them (at create and at update), and `docker update`, which changes
//! them on a running container's cgroup and in its record.

use crate::container::Status;
use crate::error::{Error, Result};
use crate::model::{HostConfig, RestartPolicy};
use crate::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

/// Memory below this is refused, as dockerd refuses it (6 MiB).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The limits of `hc` as OCI `linux.resources` (devices apart).
pub fn block(hc: &HostConfig) -> Value {
    let mut resources = json!({});
    let mut memory = serde_json::Map::new();
    if hc.memory > 0 {
        memory.insert("limit".into(), json!(hc.memory));
    }
    if hc.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(hc.memory_reservation));
    }
    if hc.memory_swap > 0 {
        memory.insert("swap".into(), json!(hc.memory_swap));
    }
    // cgroup v2 has no switch for the OOM killer: there it is discarded (a warning at create).
    if hc.oom_kill_disable == Some(true) && !host_is_v2() {
        memory.insert("disableOOMKiller".into(), json!(true));
    }
    if !memory.is_empty() {
        resources["memory"] = Value::Object(memory);
    }
    let mut cpu = serde_json::Map::new();
    if hc.nano_cpus > 0 {
        cpu.insert("period".into(), json!(100_000));
        cpu.insert("quota".into(), json!(hc.nano_cpus / 10_000));
    }
    if hc.cpu_quota > 0 {
        cpu.insert("quota".into(), json!(hc.cpu_quota));
    }
    if hc.cpu_period > 0 {
        cpu.insert("period".into(), json!(hc.cpu_period));
    }
    if hc.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(hc.cpu_shares));
    }
    if !hc.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(hc.cpuset_cpus));
    }
    if !hc.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(hc.cpuset_mems));
    }
    if !cpu.is_empty() {
        resources["cpu"] = Value::Object(cpu);
    }
    if let Some(p) = hc.pids_limit.filter(|p| *p > 0) {
        resources["pids"] = json!({"limit": p});
    }
    let io = block_io(hc);
    if !io.is_empty() {
        resources["blockIO"] = Value::Object(io);
    }
    resources
}

/// `--blkio-weight` and the per-device weights and throttles as OCI `blockIO`; a device
/// that is gone since create is left out, and weights where this host has none (a warning
/// at create says so).
fn block_io(hc: &HostConfig) -> serde_json::Map<String, Value> {
    let mut io = serde_json::Map::new();
    let weights = blkio_weight_supported();
    if hc.blkio_weight > 0 && weights {
        io.insert("weight".into(), json!(hc.blkio_weight));
    }
    let dev = |path: &str| block_device(path).ok();
    let wd: Vec<Value> = hc
        .blkio_weight_device
        .iter()
        .flatten()
        .filter(|_| weights)
        .filter_map(|w| {
            dev(&w.path).map(|(ma, mi)| json!({"major": ma, "minor": mi, "weight": w.weight}))
        })
        .collect();
    if !wd.is_empty() {
        io.insert("weightDevice".into(), json!(wd));
    }
    for (key, list) in [
        ("throttleReadBpsDevice", &hc.blkio_device_read_bps),
        ("throttleWriteBpsDevice", &hc.blkio_device_write_bps),
        ("throttleReadIOPSDevice", &hc.blkio_device_read_iops),
        ("throttleWriteIOPSDevice", &hc.blkio_device_write_iops),
    ] {
        let rules: Vec<Value> = list
            .iter()
            .flatten()
            .filter_map(|t| {
                dev(&t.path).map(|(ma, mi)| json!({"major": ma, "minor": mi, "rate": t.rate}))
            })
            .collect();
        if !rules.is_empty() {
            io.insert(key.into(), json!(rules));
        }
    }
    io
}

/// A block device's major and minor numbers.
fn block_device(path: &str) -> Result<(u64, u64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(path)
        .map_err(|e| Error::Invalid(format!("error getting device information for {path}: {e}")))?;
    if !m.file_type().is_block_device() {
        return Err(Error::Invalid(format!("{path} is not a block device")));
    }
    Ok((libc::major(m.rdev()) as u64, libc::minor(m.rdev()) as u64))
}

/// Whether this host's cgroups can weigh block I/O (v1 with CFQ or BFQ weights).
fn blkio_weight_supported() -> bool {
    static W: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *W.get_or_init(|| {
        let v1 = std::path::Path::new("/sys/fs/cgroup/blkio");
        v1.join("blkio.weight").exists() || v1.join("blkio.bfq.weight").exists()
    })
}

/// Whether this host's cgroups are v2 (found once).
pub fn host_is_v2() -> bool {
    static V2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *V2.get_or_init(|| berth_cgroups::Hierarchy::detect().is_ok_and(|h| h.is_v2()))
}

/// What dockerd warns of at create: limits this host cannot honour, discarded.
pub fn warnings(hc: &HostConfig) -> Vec<String> {
    let mut w = Vec::new();
    if hc.oom_kill_disable == Some(true) && host_is_v2() {
        w.push("Your kernel does not support OomKillDisable. OomKillDisable discarded.".into());
    }
    let weighs = hc.blkio_weight > 0
        || hc
            .blkio_weight_device
            .as_ref()
            .is_some_and(|d| !d.is_empty());
    if weighs && !blkio_weight_supported() {
        w.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                .into(),
        );
    }
    w
}

/// dockerd's checks of the limits (`verifyPlatformContainerResources`), with its words.
pub fn check(hc: &HostConfig) -> Result<()> {
    let bad = |m: &str| Err(Error::Invalid(m.to_string()));
    if hc.memory > 0 && hc.memory < MIN_MEMORY {
        return bad("Minimum memory limit allowed is 6MB");
    }
    if hc.memory > 0 && hc.memory_swap > 0 && hc.memory_swap < hc.memory {
        return bad("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    if hc.memory > 0 && hc.memory_reservation > 0 && hc.memory < hc.memory_reservation {
        return bad(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        );
    }
    if hc.nano_cpus > 0 && hc.cpu_period > 0 {
        return bad("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    if hc.nano_cpus > 0 && hc.cpu_quota > 0 {
        return bad("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    }
    let online = online_cpus();
    let n = online.len() as i64;
    if hc.nano_cpus < 0 || hc.nano_cpus > n * 1_000_000_000 {
        return Err(Error::Invalid(format!(
            "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
        )));
    }
    if hc.cpu_period != 0 && !(1000..=1_000_000).contains(&hc.cpu_period) {
        return bad(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        );
    }
    if hc.cpu_quota > 0 && hc.cpu_quota < 1000 {
        return bad("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    let weight_ok = |w: u16| w == 0 || (10..=1000).contains(&w);
    let device_weights = hc.blkio_weight_device.iter().flatten();
    if !weight_ok(hc.blkio_weight) || device_weights.clone().any(|d| !weight_ok(d.weight)) {
        return bad("Range of blkio weight is from 10 to 1000");
    }
    let throttles = [
        &hc.blkio_device_read_bps,
        &hc.blkio_device_write_bps,
        &hc.blkio_device_read_iops,
        &hc.blkio_device_write_iops,
    ];
    let paths = device_weights.map(|d| d.path.as_str()).chain(
        throttles
            .into_iter()
            .flatten()
            .flatten()
            .map(|t| t.path.as_str()),
    );
    for p in paths {
        block_device(p)?;
    }
    if !hc.cpuset_cpus.is_empty() {
        let asked = parse_list(&hc.cpuset_cpus).ok_or_else(|| {
            Error::Invalid(format!("Invalid value {} for cpuset cpus", hc.cpuset_cpus))
        })?;
        if !online.is_empty() && asked.iter().any(|c| !online.contains(c)) {
            let avail =
                std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
            return Err(Error::Invalid(format!(
                "Requested CPUs are not available - requested {}, available: {}",
                hc.cpuset_cpus,
                avail.trim()
            )));
        }
    }
    Ok(())
}

/// The CPUs online (`/sys/devices/system/cpu/online`), or as many as the process may use.
fn online_cpus() -> Vec<u32> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_list(s.trim()))
        .unwrap_or_else(|| {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            (0..n as u32).collect()
        })
}

/// A cpuset list, `0-2,5`.
fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b || b - a > 4096 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// `POST /containers/{id}/update`: docker's `UpdateConfig`. A field left out (or zero)
/// leaves that limit as it is; `PidsLimit` 0 or -1 lifts the limit.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateBody {
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub restart_policy: Option<RestartPolicy>,
}

impl UpdateBody {
    /// `hc` with this update's changes.
    fn merged(&self, hc: &HostConfig) -> HostConfig {
        let mut hc = hc.clone();
        let set = |to: &mut i64, v: i64| {
            if v != 0 {
                *to = v;
            }
        };
        set(&mut hc.memory, self.memory);
        set(&mut hc.memory_swap, self.memory_swap);
        set(&mut hc.memory_reservation, self.memory_reservation);
        set(&mut hc.nano_cpus, self.nano_cpus);
        set(&mut hc.cpu_shares, self.cpu_shares);
        set(&mut hc.cpu_quota, self.cpu_quota);
        set(&mut hc.cpu_period, self.cpu_period);
        if !self.cpuset_cpus.is_empty() {
            hc.cpuset_cpus = self.cpuset_cpus.clone();
        }
        if !self.cpuset_mems.is_empty() {
            hc.cpuset_mems = self.cpuset_mems.clone();
        }
        if let Some(p) = self.pids_limit {
            hc.pids_limit = (p > 0).then_some(p);
        }
        if let Some(r) = self.restart_policy.as_ref().filter(|r| !r.name.is_empty()) {
            hc.restart_policy = r.clone();
        }
        hc
    }
}

impl Engine {
    /// `docker update`: new limits for the container's cgroup now, if it runs, and for every
    /// later start; a new restart policy. Nothing changes when any part is refused.
    pub fn update_container(&self, name: &str, body: &UpdateBody) -> Result<Vec<String>> {
        let rec = self.find(name)?;
        let hc = body.merged(&rec.host_config);
        check(&hc)?;
        if body
            .restart_policy
            .as_ref()
            .is_some_and(|r| !r.name.is_empty())
        {
            crate::lifecycle::check_restart_policy(&hc)
                .map_err(|_| restart_refused(&hc.restart_policy))?;
            if hc.auto_remove && !matches!(hc.restart_policy.name.as_str(), "" | "no") {
                return Err(Error::Invalid(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container"
                        .into(),
                ));
            }
        }
        if matches!(rec.state.status, Status::Running | Status::Paused) {
            let mut block = block(&hc);
            if body.pids_limit.is_some_and(|p| p <= 0) {
                block["pids"] = json!({"limit": -1});
            }
            let resources = serde_json::from_value(block)
                .map_err(|e| Error::Invalid(format!("resources: {e}")))?;
            let mut c = berth_runtime::Container::load(&self.runtime_root(), &rec.id)?;
            c.update(&resources)
                .map_err(|e| Error::Invalid(format!("Cannot update container {}: {e}", rec.id)))?;
        }
        let rec = self.update(&rec.id, |r| r.host_config = hc.clone())?;
        self.emit(&rec, "update");
        Ok(Vec::new())
    }
}

fn restart_refused(p: &RestartPolicy) -> Error {
    Error::Invalid(format!("invalid restart policy '{}'", p.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerd_refuses_what_it_refuses() {
        let ok = HostConfig {
            memory: 32 << 20,
            nano_cpus: 500_000_000,
            cpuset_cpus: "0".into(),
            ..HostConfig::default()
        };
        assert!(check(&ok).is_ok());
        for (hc, want) in [
            (
                HostConfig {
                    memory: 1 << 20,
                    ..HostConfig::default()
                },
                "Minimum memory limit allowed is 6MB",
            ),
            (
                HostConfig {
                    memory: 32 << 20,
                    memory_swap: 16 << 20,
                    ..HostConfig::default()
                },
                "Minimum memoryswap limit should be larger than memory limit",
            ),
            (
                HostConfig {
                    nano_cpus: 1,
                    cpu_quota: 5000,
                    ..HostConfig::default()
                },
                "Nano CPUs and CPU Quota cannot both be set",
            ),
            (
                HostConfig {
                    nano_cpus: 1 << 50,
                    ..HostConfig::default()
                },
                "Range of CPUs is from 0.01 to",
            ),
            (
                HostConfig {
                    cpu_period: 10,
                    ..HostConfig::default()
                },
                "CPU cfs period can not be less",
            ),
            (
                HostConfig {
                    cpuset_cpus: "4095".into(),
                    ..HostConfig::default()
                },
                "Requested CPUs are not available",
            ),
            (
                HostConfig {
                    cpuset_cpus: "x".into(),
                    ..HostConfig::default()
                },
                "Invalid value x for cpuset cpus",
            ),
        ] {
            let e = check(&hc).expect_err(want).to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn an_update_changes_only_what_it_names() {
        let hc = HostConfig {
            memory: 64 << 20,
            cpu_shares: 512,
            pids_limit: Some(20),
            ..HostConfig::default()
        };
        let up = UpdateBody {
            memory: 32 << 20,
            pids_limit: Some(-1),
            ..UpdateBody::default()
        };
        let m = up.merged(&hc);
        assert_eq!(
            (m.memory, m.cpu_shares, m.pids_limit),
            (32 << 20, 512, None)
        );
        let m = UpdateBody::default().merged(&hc);
        assert_eq!((m.memory, m.pids_limit), (64 << 20, Some(20)));
        assert_eq!(parse_list("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_list("2-1"), None);
    }
}
