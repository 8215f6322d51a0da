//! Small file helpers for cgroupfs: write a value, read a value, read `key value` lines.

use crate::error::{Error, Result};
use std::path::Path;
use std::time::{Duration, Instant};

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

/// `mkdir -p`.
pub fn mkdir_p(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Fs {
        op: "creating cgroup",
        path: dir.to_path_buf(),
        source,
    })
}

/// How long rmdir keeps retrying EBUSY (processes still exiting).
const RMDIR_PATIENCE: Duration = Duration::from_secs(5);

/// Remove a cgroup directory, sub-cgroups first. Missing is fine; EBUSY is retried for a
/// while. Cgroup directories hold only kernel files, so rmdir works on them as they are.
pub fn rmdir_tree(dir: &Path) -> Result<()> {
    // Mostly a leaf: try it before listing the directory's thirty-odd kernel files.
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        _ => {}
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_tree(&e.path())?;
            }
        }
    }
    let deadline = Instant::now() + RMDIR_PATIENCE;
    let mut pause = Duration::from_micros(50);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            Err(source) => {
                return Err(Error::Fs {
                    op: "removing cgroup",
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// Append the pids of `dir/cgroup.procs` and of every sub-cgroup below it.
pub fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let text = match std::fs::read_to_string(dir.join("cgroup.procs")) {
        Ok(t) => t,
        // The cgroup (or a sub-cgroup) went away meanwhile.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Fs {
                op: "reading",
                path: dir.join("cgroup.procs"),
                source,
            })
        }
    };
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                procs_recursive(&e.path(), out)?;
            }
        }
    }
    Ok(())
}
