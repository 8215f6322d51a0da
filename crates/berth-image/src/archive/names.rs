//! Archive entry names: cleaned into components (absolute names and `..` refused)
//! and symlink targets resolved inside the archive.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use crate::error::{Error, Result};

pub(crate) fn unsafe_entry(entry: &str, reason: &str) -> Error {
    Error::UnsafeEntry {
        entry: entry.to_string(),
        reason: reason.to_string(),
    }
}

/// Splits a name into plain components, refusing absolute names and `..`.
pub(crate) fn clean(raw: &[u8], shown: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for comp in Path::new(OsStr::from_bytes(raw)).components() {
        match comp {
            Component::Normal(c) => match c.to_str() {
                Some(s) => out.push(s.to_string()),
                None => return Err(unsafe_entry(shown, "name is not UTF-8")),
            },
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry(shown, "absolute path in the archive"))
            }
            Component::ParentDir => return Err(unsafe_entry(shown, "path contains '..'")),
        }
    }
    Ok(out)
}

/// Resolves a symlink target relative to the link's directory, inside the archive.
pub(crate) fn resolve_symlink(dir: &[String], target: &[u8], shown: &str) -> Result<String> {
    if target.first() == Some(&b'/') {
        return Err(unsafe_entry(shown, "symlink to an absolute path"));
    }
    let mut cur = dir.to_vec();
    for comp in Path::new(OsStr::from_bytes(target)).components() {
        match comp {
            Component::Normal(c) => match c.to_str() {
                Some(s) => cur.push(s.to_string()),
                None => return Err(unsafe_entry(shown, "link target is not UTF-8")),
            },
            Component::CurDir => {}
            Component::ParentDir => {
                if cur.pop().is_none() {
                    return Err(unsafe_entry(shown, "symlink points outside the archive"));
                }
            }
            _ => return Err(unsafe_entry(shown, "symlink to an absolute path")),
        }
    }
    Ok(cur.join("/"))
}
