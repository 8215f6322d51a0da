//! Writing OCI resources into a cgroup v2 directory; device rules go to an eBPF program
//! (`devices_bpf`), since v2 has no devices.allow.

use crate::error::{Error, Result};
use crate::fsutil::write;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxResources};
use std::path::Path;

/// runc's conversion of v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// runc's conversion of blkio weight (10..1000) to io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w).saturating_sub(10) * 9999) / 990
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Fail clearly when the leaf does not offer `controller` (its files would be missing).
/// Without a cgroup.controllers file (a fake tree) the write itself reports the problem.
fn need(dir: &Path, controller: &str) -> Result<()> {
    match std::fs::read_to_string(dir.join("cgroup.controllers")) {
        Ok(s) if !s.split_whitespace().any(|c| c == controller) => {
            Err(Error::MissingController(controller.to_string()))
        }
        _ => Ok(()),
    }
}

/// runc's memory.swap.max for OCI `swap` (memory+swap) and `limit`: -1 is "max", 0 unset.
fn swap_max(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>> {
    let (swap, limit) = (swap.unwrap_or(0), limit.unwrap_or(0));
    if limit == -1 && swap == 0 {
        // Unlimited memory and no swap setting: unlimited swap too, like v1.
        return Ok(Some("max".into()));
    }
    match swap {
        0 => Ok(None),
        s if s < 0 => Ok(Some("max".into())),
        s if limit <= 0 => Err(Error::Invalid(format!(
            "memory+swap limit {s} needs a memory limit"
        ))),
        s if s < limit => Err(Error::Invalid(format!(
            "memory+swap limit {s} is below the memory limit {limit}"
        ))),
        s => Ok(Some((s - limit).to_string())),
    }
}

/// Write OCI resources into the v2 directory `dir`. Device rules are not written: v2 needs
/// an eBPF device program for them, and the runtime creates only the allowed device nodes.
pub fn apply(dir: &Path, r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        let swap = swap_max(m.swap(), m.limit())?;
        if m.limit().is_some() || m.reservation().is_some() || swap.is_some() {
            need(dir, "memory")?;
        }
        if let Some(v) = swap {
            // No swap accounting: only "unlimited" and "none" may be ignored.
            if dir.join("memory.swap.max").exists() {
                write(dir, "memory.swap.max", &v)?;
            } else if v != "max" && v != "0" {
                return Err(Error::Invalid(format!(
                    "a swap limit needs swap accounting; {} is missing",
                    dir.join("memory.swap.max").display()
                )));
            }
        }
        if let Some(l) = m.limit() {
            write(dir, "memory.max", max_or(l))?;
        }
        if let Some(res) = m.reservation() {
            write(dir, "memory.low", max_or(res))?;
        }
        if let Some(true) = m.disable_oom_killer() {
            return Err(Error::Invalid(
                "disableOOMKiller is not supported on cgroup v2".into(),
            ));
        }
    }
    if let Some(c) = r.cpu() {
        apply_cpu(dir, c)?;
    }
    if let Some(p) = r.pids() {
        need(dir, "pids")?;
        write(
            dir,
            "pids.max",
            if p.limit() <= 0 {
                "max".into()
            } else {
                p.limit().to_string()
            },
        )?;
    }
    if let Some(b) = r.block_io() {
        apply_io(dir, b)?;
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            return Err(Error::MissingController("net_cls".into()));
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(Error::MissingController("net_prio".into()));
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        need(dir, "hugetlb")?;
        write(dir, &format!("hugetlb.{}.max", h.page_size()), h.limit())?;
    }
    if let Some(rules) = r.devices().as_deref().filter(|d| !d.is_empty()) {
        crate::devices_bpf::apply(dir, rules)?;
    }
    for (k, v) in r.unified().iter().flatten() {
        if k.contains('/') || k.starts_with('.') {
            return Err(Error::Invalid(format!(
                "unified key {k:?} is not a cgroup file name"
            )));
        }
        write(dir, k, v)?;
    }
    Ok(())
}

fn apply_cpu(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if c.realtime_period().is_some() || c.realtime_runtime().is_some() {
        return Err(Error::Invalid(
            "realtime cpu limits (realtimePeriod, realtimeRuntime) need cgroup v1".into(),
        ));
    }
    let any_cpu = c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.idle().is_some()
        || c.burst().is_some();
    if any_cpu {
        need(dir, "cpu")?;
    }
    if let Some(s) = c.shares() {
        write(dir, "cpu.weight", shares_to_weight(s))?;
    }
    if let Some(i) = c.idle() {
        write(dir, "cpu.idle", i)?;
    }
    if c.quota().is_some() || c.period().is_some() {
        let quota = match c.quota() {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        write(
            dir,
            "cpu.max",
            format!("{quota} {}", c.period().unwrap_or(100_000)),
        )?;
    }
    if let Some(b) = c.burst() {
        write(dir, "cpu.max.burst", b)?;
    }
    let cpus = c.cpus().as_deref().filter(|s| !s.is_empty());
    let mems = c.mems().as_deref().filter(|s| !s.is_empty());
    if cpus.is_some() || mems.is_some() {
        need(dir, "cpuset")?;
    }
    if let Some(cpus) = cpus {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = mems {
        write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// io.weight ("default N", converted; io.bfq.weight unconverted when io.weight is absent)
/// and io.max, one "MAJ:MIN rbps=N wbps=N riops=N wiops=N" line per device.
fn apply_io(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    let throttles = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    let any_throttle = throttles
        .iter()
        .any(|(_, l)| l.as_ref().is_some_and(|l| !l.is_empty()));
    let weights = b
        .weight_device()
        .iter()
        .flatten()
        .filter(|w| w.weight().is_some());
    if b.weight().is_none() && weights.clone().next().is_none() && !any_throttle {
        return Ok(());
    }
    need(dir, "io")?;
    let bfq = !dir.join("io.weight").exists() && dir.join("io.bfq.weight").exists();
    if let Some(w) = b.weight() {
        if bfq {
            write(dir, "io.bfq.weight", w)?;
        } else {
            write(
                dir,
                "io.weight",
                format!("default {}", blkio_to_io_weight(w)),
            )?;
        }
    }
    for wd in weights {
        let (dev, w) = (format!("{}:{}", wd.major(), wd.minor()), wd.weight());
        let w = w.unwrap_or_default();
        if bfq {
            write(dir, "io.bfq.weight", format!("{dev} {w}"))?;
        } else {
            write(dir, "io.weight", format!("{dev} {}", blkio_to_io_weight(w)))?;
        }
    }
    // Group the four lists by device, keeping first-seen order.
    let mut lines: Vec<((i64, i64), String)> = Vec::new();
    for (key, list) in throttles {
        for t in list.iter().flatten() {
            let item = format!(" {key}={}", t.rate());
            match lines.iter_mut().find(|(d, _)| *d == (t.major(), t.minor())) {
                Some((_, line)) => line.push_str(&item),
                None => lines.push((
                    (t.major(), t.minor()),
                    format!("{}:{}{item}", t.major(), t.minor()),
                )),
            }
        }
    }
    for (_, line) in lines {
        write(dir, "io.max", line)?;
    }
    Ok(())
}
