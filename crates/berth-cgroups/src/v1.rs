//! Writing OCI resources into cgroup v1 controller directories.

use crate::error::{Error, Result};
use crate::fsutil::write;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use std::path::{Path, PathBuf};

/// Looks up a controller's directory for this cgroup (None: controller not mounted).
pub trait Dirs {
    /// The controller's directory for this cgroup, if the controller is mounted.
    fn dir(&self, controller: &str) -> Option<PathBuf>;
    /// The controller's directory, or the "not available on this host" error.
    fn need(&self, controller: &str) -> Result<PathBuf> {
        self.dir(controller)
            .ok_or_else(|| Error::MissingController(controller.to_string()))
    }
}

fn limit(v: i64) -> String {
    if v < 0 {
        "-1".into()
    } else {
        v.to_string()
    }
}

/// Write OCI resources into the v1 controller directories, in runc's order. A limit whose
/// controller is not mounted fails with `MissingController`; absent values are skipped.
pub fn apply(d: &dyn Dirs, r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        let mut pending = Vec::new();
        if m.limit().is_some() || m.swap().is_some() || m.reservation().is_some() {
            let dir = d.need("memory")?;
            let memsw = dir.join("memory.memsw.limit_in_bytes").exists();
            if let Some(l) = m.limit() {
                pending.push(("memory.limit_in_bytes", limit(l)));
            }
            // Unlimited memory without a swap setting means unlimited memory+swap (runc).
            let swap = m.swap().or(m.limit().filter(|l| *l < 0));
            match swap {
                Some(s) if memsw => pending.push(("memory.memsw.limit_in_bytes", limit(s))),
                Some(s) if s >= 0 => {
                    return Err(Error::Invalid(format!(
                        "a swap limit needs swap accounting; {} is missing",
                        dir.join("memory.memsw.limit_in_bytes").display()
                    )))
                }
                _ => {}
            }
            write_ordered(&dir, &pending)?;
            if let Some(res) = m.reservation() {
                write(&dir, "memory.soft_limit_in_bytes", limit(res))?;
            }
        }
        if let Some(true) = m.disable_oom_killer() {
            write(&d.need("memory")?, "memory.oom_control", 1)?;
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(Error::Invalid(format!("memory swappiness {s} is over 100")));
            }
            write(&d.need("memory")?, "memory.swappiness", s)?;
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares() {
            write(&d.need("cpu")?, "cpu.shares", s)?;
        }
        if c.period().is_some() || c.quota().is_some() {
            set_cfs(&d.need("cpu")?, c.period(), c.quota())?;
        }
        if let Some(b) = c.burst() {
            write(&d.need("cpu")?, "cpu.cfs_burst_us", b)?;
        }
        if let Some(i) = c.idle() {
            write(&d.need("cpu")?, "cpu.idle", i)?;
        }
        if let Some(p) = c.realtime_period() {
            write(&d.need("cpu")?, "cpu.rt_period_us", p)?;
        }
        if let Some(q) = c.realtime_runtime() {
            write(&d.need("cpu")?, "cpu.rt_runtime_us", q)?;
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            write(&d.need("cpuset")?, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            write(&d.need("cpuset")?, "cpuset.mems", mems)?;
        }
    }
    if let Some(p) = r.pids() {
        let v = if p.limit() <= 0 {
            "max".to_string()
        } else {
            p.limit().to_string()
        };
        write(&d.need("pids")?, "pids.max", v)?;
    }
    if let Some(b) = r.block_io() {
        apply_blkio(d, b)?;
    }
    if let Some(devs) = r.devices() {
        if !devs.is_empty() {
            let dir = d.need("devices")?;
            // Start from nothing, then the rules in order (the last match wins).
            write(&dir, "devices.deny", "a")?;
            for rule in devs {
                // The device cgroup knows only a, b and c; FIFOs need no permission.
                if rule.typ() == Some(LinuxDeviceType::P) {
                    continue;
                }
                let file = if rule.allow() {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                write(&dir, file, device_rule(rule))?;
            }
        }
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            write(&d.need("net_cls")?, "net_cls.classid", id)?;
        }
        for p in n.priorities().iter().flatten() {
            write(
                &d.need("net_prio")?,
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            )?;
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        let dir = d.need("hugetlb")?;
        write(
            &dir,
            &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
            h.limit(),
        )?;
        // Reservation limits (5.7+) too, where the kernel has them.
        let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", h.page_size());
        if dir.join(&rsvd).exists() {
            write(&dir, &rsvd, h.limit())?;
        }
    }
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(Error::Invalid(
            "linux.resources.unified needs cgroup v2; this host has cgroup v1".into(),
        ));
    }
    Ok(())
}

/// cfs period then quota. A smaller period can be refused (EINVAL) while the old quota
/// still holds; then it is written again after the quota, as runc does.
fn set_cfs(dir: &Path, period: Option<u64>, quota: Option<i64>) -> Result<()> {
    let mut retry_period = None;
    if let Some(p) = period {
        if let Err(e) = write(dir, "cpu.cfs_period_us", p) {
            match &e {
                Error::Write { source, .. }
                    if source.raw_os_error() == Some(libc::EINVAL) && quota.is_some() =>
                {
                    retry_period = Some(p)
                }
                _ => return Err(e),
            }
        }
    }
    if let Some(q) = quota {
        write(dir, "cpu.cfs_quota_us", if q <= 0 { -1 } else { q })?;
    }
    if let Some(p) = retry_period {
        write(dir, "cpu.cfs_period_us", p)?;
    }
    Ok(())
}

/// memory.limit and memsw must be raised memsw-first and lowered limit-first: try one order,
/// then the other.
fn write_ordered(dir: &Path, pairs: &[(&str, String)]) -> Result<()> {
    let forward = pairs.iter().try_for_each(|(f, v)| write(dir, f, v));
    if forward.is_ok() || pairs.len() < 2 {
        return forward;
    }
    pairs.iter().rev().try_for_each(|(f, v)| write(dir, f, v))
}

fn apply_blkio(d: &dyn Dirs, b: &oci_spec::runtime::LinuxBlockIo) -> Result<()> {
    let needs = b.weight().is_some()
        || b.leaf_weight().is_some()
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || [
            b.throttle_read_bps_device(),
            b.throttle_write_bps_device(),
            b.throttle_read_iops_device(),
            b.throttle_write_iops_device(),
        ]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()));
    if !needs {
        return Ok(());
    }
    let dir = d.need("blkio")?;
    if let Some(w) = b.weight() {
        let file = if dir.join("blkio.weight").exists() {
            "blkio.weight"
        } else {
            "blkio.bfq.weight"
        };
        write(&dir, file, w)?;
    }
    if let Some(w) = b.leaf_weight() {
        write(&dir, "blkio.leaf_weight", w)?;
    }
    let weight_device = if dir.join("blkio.weight_device").exists() {
        "blkio.weight_device"
    } else {
        "blkio.bfq.weight_device"
    };
    for wd in b.weight_device().iter().flatten() {
        if let Some(w) = wd.weight() {
            write(
                &dir,
                weight_device,
                format!("{}:{} {}", wd.major(), wd.minor(), w),
            )?;
        }
        if let Some(w) = wd.leaf_weight() {
            write(
                &dir,
                "blkio.leaf_weight_device",
                format!("{}:{} {}", wd.major(), wd.minor(), w),
            )?;
        }
    }
    for (file, list) in [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ] {
        for t in list.iter().flatten() {
            write(
                &dir,
                file,
                format!("{}:{} {}", t.major(), t.minor(), t.rate()),
            )?;
        }
    }
    Ok(())
}

/// An OCI device rule: allow or deny `access` ("rwm" letters) to devices of `typ`, with
/// `None` for any major or minor.
pub fn new_device_rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut d = LinuxDeviceCgroup::default();
    d.set_allow(allow);
    d.set_typ(Some(typ));
    d.set_major(major);
    d.set_minor(minor);
    d.set_access(Some(access.to_string()));
    d
}

/// "TYPE MAJ:MIN ACCESS" as devices.allow/deny take it.
pub fn device_rule(r: &LinuxDeviceCgroup) -> String {
    let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => 'p',
    };
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    let access = r.access().clone().unwrap_or_else(|| "rwm".into());
    if typ == 'a' && r.major().is_none() && r.minor().is_none() {
        return format!("a *:* {access}");
    }
    format!("{typ} {}:{} {access}", num(r.major()), num(r.minor()))
}
