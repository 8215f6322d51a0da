//! Small file helpers for cgroupfs: write a value, read a value, read `key value` lines.

use crate::error::{Error, Result};
use std::path::Path;

/// Write `value` to `dir/file` (O_TRUNC like runc; never creates: cgroupfs files exist or not).
pub fn write(dir: &Path, file: &str, value: impl std::fmt::Display) -> Result<()> {
    let path = dir.join(file);
    let value = value.to_string();
    let r = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, value.as_bytes()));
    r.map_err(|source| Error::Write {
        path,
        value,
        source,
    })
}

pub fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| Error::Fs {
        op: "reading",
        path,
        source,
    })
}

/// A number from a one-value file; missing file or "max" → None.
pub fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// `key value` lines (memory.stat, cpu.stat, memory.events...) as pairs.
pub fn read_kv(dir: &Path, file: &str) -> Vec<(String, u64)> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

pub fn kv(pairs: &[(String, u64)], key: &str) -> u64 {
    pairs.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
}
