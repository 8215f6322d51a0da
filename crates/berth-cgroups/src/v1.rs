//! Writing OCI resources into cgroup v1 controller directories.

use crate::error::{Error, Result};
use crate::fsutil::write;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use std::path::{Path, PathBuf};

/// Looks up a controller's directory for this cgroup (None: controller not mounted).
pub trait Dirs {
    fn dir(&self, controller: &str) -> Option<PathBuf>;
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

pub fn apply(d: &dyn Dirs, r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        let mut pending = Vec::new();
        if m.limit().is_some() || m.swap().is_some() || m.reservation().is_some() {
            let dir = d.need("memory")?;
            if let Some(l) = m.limit() {
                pending.push(("memory.limit_in_bytes", limit(l)));
            }
            if let Some(s) = m.swap() {
                if dir.join("memory.memsw.limit_in_bytes").exists() {
                    pending.push(("memory.memsw.limit_in_bytes", limit(s)));
                }
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
        if let Some(p) = c.period() {
            write(&d.need("cpu")?, "cpu.cfs_period_us", p)?;
        }
        if let Some(q) = c.quota() {
            write(
                &d.need("cpu")?,
                "cpu.cfs_quota_us",
                if q <= 0 { -1 } else { q },
            )?;
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
            for rule in devs {
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
        write(
            &d.need("hugetlb")?,
            &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
            h.limit(),
        )?;
    }
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(Error::Invalid(
            "linux.resources.unified needs cgroup v2; this host has cgroup v1".into(),
        ));
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
    for wd in b.weight_device().iter().flatten() {
        if let Some(w) = wd.weight() {
            write(
                &dir,
                "blkio.weight_device",
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
