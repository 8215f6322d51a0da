//! Writing OCI resources into a cgroup v2 directory. Device rules need an eBPF program on v2
//! and are not written here: the runtime only creates the device nodes it allows.

use crate::error::{Error, Result};
use crate::fsutil::write;
use oci_spec::runtime::LinuxResources;
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

pub fn apply(dir: &Path, r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit() {
            write(dir, "memory.max", max_or(l))?;
        }
        if let Some(res) = m.reservation() {
            write(dir, "memory.low", max_or(res))?;
        }
        if let Some(s) = m.swap() {
            // OCI swap is memory+swap; v2 swap.max is swap alone.
            let v = match (s, m.limit()) {
                (s, _) if s < 0 => "max".to_string(),
                (s, Some(l)) if l >= 0 => {
                    if s < l {
                        return Err(Error::Invalid(format!(
                            "memory+swap limit {s} is below the memory limit {l}"
                        )));
                    }
                    (s - l).to_string()
                }
                (s, _) => s.to_string(),
            };
            if dir.join("memory.swap.max").exists() {
                write(dir, "memory.swap.max", v)?;
            }
        }
        if let Some(true) = m.disable_oom_killer() {
            return Err(Error::Invalid(
                "disableOOMKiller is not supported on cgroup v2".into(),
            ));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares() {
            write(dir, "cpu.weight", shares_to_weight(s))?;
        }
        match (c.quota(), c.period()) {
            (None, None) => {}
            (q, p) => {
                let quota = match q {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".to_string(),
                };
                write(dir, "cpu.max", format!("{quota} {}", p.unwrap_or(100_000)))?;
            }
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            write(dir, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            write(dir, "cpuset.mems", mems)?;
        }
    }
    if let Some(p) = r.pids() {
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
        if let Some(w) = b.weight() {
            if dir.join("io.weight").exists() {
                write(
                    dir,
                    "io.weight",
                    format!("default {}", blkio_to_io_weight(w)),
                )?;
            } else {
                write(dir, "io.bfq.weight", w)?;
            }
        }
        for wd in b.weight_device().iter().flatten() {
            if let Some(w) = wd.weight() {
                write(
                    dir,
                    "io.weight",
                    format!("{}:{} {}", wd.major(), wd.minor(), blkio_to_io_weight(w)),
                )?;
            }
        }
        for (key, list) in [
            ("rbps", b.throttle_read_bps_device()),
            ("wbps", b.throttle_write_bps_device()),
            ("riops", b.throttle_read_iops_device()),
            ("wiops", b.throttle_write_iops_device()),
        ] {
            for t in list.iter().flatten() {
                write(
                    dir,
                    "io.max",
                    format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
                )?;
            }
        }
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            return Err(Error::MissingController("net_cls".into()));
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        write(dir, &format!("hugetlb.{}.max", h.page_size()), h.limit())?;
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
