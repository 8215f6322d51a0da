//! `-v src:dst[:opts]` (bind when the source is a path, named volume otherwise, anonymous
//! volume for a lone path), `--mount type=...,source=,target=,...` and `--tmpfs`.

use std::path::Path;

use serde_json::{Map, Value};

use super::units::ram_in_bytes;
use crate::error::{Error, Result};

/// What one `-v` becomes in the create request.
#[derive(Debug, PartialEq, Eq)]
pub enum VolumeSpec {
    /// An entry of `HostConfig.Binds` (bind mounts and named volumes alike).
    Bind(String),
    /// A lone container path: an anonymous volume in `Config.Volumes`.
    Anonymous(String),
}

const VOLUME_MODES: &[&str] = &[
    "ro",
    "rw",
    "z",
    "Z",
    "nocopy",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "delegated",
    "cached",
    "consistent",
];

/// Parses one `-v`; a relative source starting with `.` becomes an absolute host path.
pub fn parse_volume(spec: &str) -> Result<VolumeSpec> {
    let invalid = || Error::usage(format!("invalid volume specification: '{spec}'"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [dst] => {
            if !dst.starts_with('/') {
                return Err(invalid());
            }
            return Ok(VolumeSpec::Anonymous(dst.to_string()));
        }
        [src, dst] => (*src, *dst, None),
        [src, dst, mode] => (*src, *dst, Some(*mode)),
        _ => return Err(invalid()),
    };
    if src.is_empty() || !dst.starts_with('/') {
        return Err(invalid());
    }
    if let Some(mode) = mode {
        if mode.split(',').any(|m| !VOLUME_MODES.contains(&m)) {
            return Err(Error::usage(format!(
                "invalid mode: {mode} in volume specification: '{spec}'"
            )));
        }
    }
    let src = if src == "." || src == ".." || src.starts_with("./") || src.starts_with("../") {
        let abs = std::env::current_dir()?.join(src);
        normalize(&abs)
    } else {
        src.to_string()
    };
    Ok(VolumeSpec::Bind(match mode {
        Some(m) => format!("{src}:{dst}:{m}"),
        None => format!("{src}:{dst}"),
    }))
}

/// Lexically cleans a path (`a/./b/../c` → `a/c`).
fn normalize(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

fn parse_bool(key: &str, v: Option<&str>) -> Result<bool> {
    match v.map(str::to_lowercase).as_deref() {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(Error::usage(format!("invalid value for {key}: {other}"))),
    }
}

/// Parses one `--mount` into a `HostConfig.Mounts` entry.
pub fn parse_mount(spec: &str) -> Result<Value> {
    let mut m = Map::new();
    let mut kind = "volume".to_string();
    let (mut bind, mut vol, mut labels, mut driver, mut dopts, mut tmpfs) = (
        Map::new(),
        Map::new(),
        Map::new(),
        Map::new(),
        Map::new(),
        Map::new(),
    );
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_lowercase(), Some(v.trim_matches('"'))),
            None => (field.trim().to_lowercase(), None),
        };
        let need = || {
            value.ok_or_else(|| {
                Error::usage(format!("invalid field '{field}' must be a key=value pair"))
            })
        };
        match key.as_str() {
            "type" => kind = need()?.to_string(),
            "source" | "src" => {
                m.insert("Source".into(), need()?.into());
            }
            "target" | "dst" | "destination" => {
                m.insert("Target".into(), need()?.into());
            }
            "readonly" | "ro" => {
                if parse_bool(&key, value)? {
                    m.insert("ReadOnly".into(), true.into());
                }
            }
            "consistency" => {
                m.insert("Consistency".into(), need()?.into());
            }
            "bind-propagation" => {
                bind.insert("Propagation".into(), need()?.into());
            }
            "bind-nonrecursive" => {
                bind.insert("NonRecursive".into(), parse_bool(&key, value)?.into());
            }
            "volume-nocopy" => {
                vol.insert("NoCopy".into(), parse_bool(&key, value)?.into());
            }
            "volume-subpath" => {
                vol.insert("Subpath".into(), need()?.into());
            }
            "volume-label" => {
                let v = need()?;
                let (k, v) = v.split_once('=').unwrap_or((v, ""));
                labels.insert(k.into(), v.into());
            }
            "volume-driver" => {
                driver.insert("Name".into(), need()?.into());
            }
            "volume-opt" => {
                let v = need()?;
                let (k, v) = v.split_once('=').unwrap_or((v, ""));
                dopts.insert(k.into(), v.into());
            }
            "tmpfs-size" => {
                tmpfs.insert("SizeBytes".into(), ram_in_bytes(need()?)?.into());
            }
            "tmpfs-mode" => {
                let v = need()?;
                let mode = u32::from_str_radix(v, 8)
                    .map_err(|_| Error::usage(format!("invalid value for {key}: {v}")))?;
                tmpfs.insert("Mode".into(), mode.into());
            }
            _ => return Err(Error::usage(format!("unexpected key '{key}' in '{field}'"))),
        }
    }
    if !matches!(kind.as_str(), "bind" | "volume" | "tmpfs") {
        return Err(Error::usage(format!("invalid mount type: {kind}")));
    }
    if !m.contains_key("Target") {
        return Err(Error::usage("target is required"));
    }
    if kind == "bind" && !m.contains_key("Source") {
        return Err(Error::usage(
            "invalid mount config for type \"bind\": field Source must not be empty",
        ));
    }
    if !dopts.is_empty() {
        driver.insert("Options".into(), Value::Object(dopts));
    }
    if !driver.is_empty() {
        vol.insert("DriverConfig".into(), Value::Object(driver));
    }
    if !labels.is_empty() {
        vol.insert("Labels".into(), Value::Object(labels));
    }
    let mut out = Map::new();
    out.insert("Type".into(), kind.into());
    out.extend(m);
    for (k, sub) in [
        ("BindOptions", bind),
        ("VolumeOptions", vol),
        ("TmpfsOptions", tmpfs),
    ] {
        if !sub.is_empty() {
            out.insert(k.into(), Value::Object(sub));
        }
    }
    Ok(Value::Object(out))
}

/// `--tmpfs /path[:options]` as (path, options).
pub fn parse_tmpfs(spec: &str) -> Result<(String, String)> {
    let (path, opts) = spec.split_once(':').unwrap_or((spec, ""));
    if !path.starts_with('/') {
        return Err(Error::usage(format!(
            "invalid tmpfs specification: '{spec}'"
        )));
    }
    Ok((path.to_string(), opts.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volumes() {
        assert_eq!(
            parse_volume("data:/d:ro").unwrap(),
            VolumeSpec::Bind("data:/d:ro".into())
        );
        assert_eq!(
            parse_volume("/h:/c").unwrap(),
            VolumeSpec::Bind("/h:/c".into())
        );
        assert_eq!(
            parse_volume("/anon").unwrap(),
            VolumeSpec::Anonymous("/anon".into())
        );
        assert!(parse_volume("data:rel").is_err());
        assert!(parse_volume("a:/b:bogus").is_err());
        assert!(parse_volume("a:/b:ro:x").is_err());
        match parse_volume("./x:/c").unwrap() {
            VolumeSpec::Bind(b) => assert!(b.starts_with('/') && b.ends_with("/x:/c")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mounts() {
        assert_eq!(
            parse_mount("type=bind,source=/s,target=/u,readonly").unwrap(),
            json!({"Type": "bind", "Source": "/s", "Target": "/u", "ReadOnly": true})
        );
        assert_eq!(
            parse_mount("type=tmpfs,target=/t").unwrap(),
            json!({"Type": "tmpfs", "Target": "/t"})
        );
        assert_eq!(
            parse_mount("src=v,dst=/d,volume-nocopy,tmpfs-size=1m").unwrap(),
            json!({"Type": "volume", "Source": "v", "Target": "/d", "VolumeOptions": {"NoCopy": true}, "TmpfsOptions": {"SizeBytes": 1048576}})
        );
        assert!(parse_mount("type=bind,target=/x").is_err());
        assert!(parse_mount("source=/x").is_err());
        assert!(parse_mount("type=nfs,target=/x").is_err());
        assert!(parse_mount("target=/x,bogus=1").is_err());
    }
}
