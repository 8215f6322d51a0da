//! Resource usage in the shape runc's `events --stats` prints as "data".

use crate::fsutil::{kv, read_kv, read_u64};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    pub total: u64,
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub cache: u64,
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Pids {
    pub current: u64,
    pub limit: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// USER_HZ ticks (cpuacct.stat) to nanoseconds.
const TICK_NS: u64 = 10_000_000;

pub fn v1(dir: impl Fn(&str) -> Option<std::path::PathBuf>) -> Stats {
    let mut s = Stats::default();
    if let Some(d) = dir("cpuacct") {
        s.cpu.usage.total = read_u64(&d, "cpuacct.usage").unwrap_or(0);
        s.cpu.usage.percpu = std::fs::read_to_string(d.join("cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let st = read_kv(&d, "cpuacct.stat");
        s.cpu.usage.user = kv(&st, "user") * TICK_NS;
        s.cpu.usage.kernel = kv(&st, "system") * TICK_NS;
    }
    if let Some(d) = dir("cpu") {
        let st = read_kv(&d, "cpu.stat");
        s.cpu.throttling = Throttling {
            periods: kv(&st, "nr_periods"),
            throttled_periods: kv(&st, "nr_throttled"),
            throttled_time: kv(&st, "throttled_time"),
        };
    }
    if let Some(d) = dir("memory") {
        let entry = |prefix: &str| MemoryEntry {
            limit: read_u64(&d, &format!("{prefix}limit_in_bytes")).unwrap_or(0),
            usage: read_u64(&d, &format!("{prefix}usage_in_bytes")).unwrap_or(0),
            max: read_u64(&d, &format!("{prefix}max_usage_in_bytes")).unwrap_or(0),
            failcnt: read_u64(&d, &format!("{prefix}failcnt")).unwrap_or(0),
        };
        s.memory.usage = entry("memory.");
        s.memory.swap = entry("memory.memsw.");
        s.memory.raw = read_kv(&d, "memory.stat").into_iter().collect();
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    }
    if let Some(d) = dir("pids") {
        s.pids = pids(&d);
    }
    if let Some(d) = dir("blkio") {
        for line in std::fs::read_to_string(d.join("blkio.throttle.io_service_bytes"))
            .unwrap_or_default()
            .lines()
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let [dev, op, value] = f[..] {
                if let Some((maj, min)) = dev.split_once(':') {
                    s.blkio.io_service_bytes_recursive.push(BlkioEntry {
                        major: maj.parse().unwrap_or(0),
                        minor: min.parse().unwrap_or(0),
                        op: op.to_string(),
                        value: value.parse().unwrap_or(0),
                    });
                }
            }
        }
    }
    s
}

fn pids(d: &Path) -> Pids {
    Pids {
        current: read_u64(d, "pids.current").unwrap_or(0),
        limit: read_u64(d, "pids.max").unwrap_or(0),
    }
}

pub fn v2(d: &Path) -> Stats {
    let mut s = Stats::default();
    let cpu = read_kv(d, "cpu.stat");
    s.cpu.usage.total = kv(&cpu, "usage_usec") * 1000;
    s.cpu.usage.user = kv(&cpu, "user_usec") * 1000;
    s.cpu.usage.kernel = kv(&cpu, "system_usec") * 1000;
    s.cpu.throttling = Throttling {
        periods: kv(&cpu, "nr_periods"),
        throttled_periods: kv(&cpu, "nr_throttled"),
        throttled_time: kv(&cpu, "throttled_usec") * 1000,
    };
    s.memory.usage = MemoryEntry {
        limit: read_u64(d, "memory.max").unwrap_or(u64::MAX),
        usage: read_u64(d, "memory.current").unwrap_or(0),
        max: read_u64(d, "memory.peak").unwrap_or(0),
        failcnt: kv(&read_kv(d, "memory.events"), "max"),
    };
    s.memory.swap = MemoryEntry {
        limit: read_u64(d, "memory.swap.max").unwrap_or(u64::MAX),
        usage: read_u64(d, "memory.swap.current").unwrap_or(0),
        ..Default::default()
    };
    s.memory.raw = read_kv(d, "memory.stat").into_iter().collect();
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.pids = pids(d);
    for line in std::fs::read_to_string(d.join("io.stat"))
        .unwrap_or_default()
        .lines()
    {
        let mut it = line.split_whitespace();
        let Some((maj, min)) = it.next().and_then(|dev| dev.split_once(':')) else {
            continue;
        };
        for kvp in it {
            let Some((k, v)) = kvp.split_once('=') else {
                continue;
            };
            let op = match k {
                "rbytes" => "Read",
                "wbytes" => "Write",
                _ => continue,
            };
            s.blkio.io_service_bytes_recursive.push(BlkioEntry {
                major: maj.parse().unwrap_or(0),
                minor: min.parse().unwrap_or(0),
                op: op.into(),
                value: v.parse().unwrap_or(0),
            });
        }
    }
    s
}
