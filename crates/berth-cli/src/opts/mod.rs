//! Parsing docker's flag values: ports, volumes and mounts, sizes and CPU counts,
//! environment and label lists, restart policies.

pub mod mounts;
pub mod ports;
pub mod units;

use std::collections::BTreeMap;
use std::fs;

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// `-e KEY=VALUE` as is; `-e KEY` takes KEY's value from our environment when set.
pub fn env_var(s: &str) -> String {
    if s.contains('=') {
        return s.to_string();
    }
    match std::env::var(s) {
        Ok(v) => format!("{s}={v}"),
        Err(_) => s.to_string(),
    }
}

/// Docker's env-file parser: `KEY=VALUE` lines kept verbatim, `KEY` alone taken from our
/// environment (dropped when unset), blank lines and `#` comments skipped.
pub fn read_env_file(path: &str) -> Result<Vec<String>> {
    let text = fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("open {path}: {}", io_text(&e))))?;
    parse_env_lines(&text, |k| std::env::var(k).ok())
}

/// The line rules of [`read_env_file`], with a custom lookup.
pub fn parse_env_lines(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (var, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        if var.contains(char::is_whitespace) {
            return Err(Error::usage(format!(
                "variable '{var}' contains whitespaces"
            )));
        }
        if var.is_empty() {
            return Err(Error::usage(format!("no variable name on line '{line}'")));
        }
        match value {
            Some(v) => out.push(format!("{var}={v}")),
            None => {
                if let Some(v) = lookup(var) {
                    out.push(format!("{var}={v}"));
                }
            }
        }
    }
    Ok(out)
}

/// The text of an I/O error without Rust's " (os error N)" suffix, as Go prints it.
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// `-l key=value` (or `key` alone for an empty value) into a label map.
pub fn labels(list: &[String], files: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for f in files {
        let text = fs::read_to_string(f)
            .map_err(|e| Error::usage(format!("open {f}: {}", io_text(&e))))?;
        for line in text.lines() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                insert_kv(&mut out, line);
            }
        }
    }
    for l in list {
        insert_kv(&mut out, l);
    }
    Ok(out)
}

fn insert_kv(map: &mut BTreeMap<String, String>, s: &str) {
    match s.split_once('=') {
        Some((k, v)) => map.insert(k.to_string(), v.to_string()),
        None => map.insert(s.to_string(), String::new()),
    };
}

/// `key=value` options (`-o`, `--opt`) into a map; the `=` is required.
pub fn kv_map(list: &[String], flag: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for s in list {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            Error::usage(format!(
                "invalid argument \"{s}\" for \"{flag}\" flag: expected key=value"
            ))
        })?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// `--restart no|always|unless-stopped|on-failure[:N]` as a RestartPolicy object.
pub fn restart_policy(s: &str) -> Result<Value> {
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (s, None),
    };
    let bad = || Error::usage(format!("invalid restart policy format: {s}"));
    let retries: i64 = match count {
        Some(c) => c.parse().map_err(|_| bad())?,
        None => 0,
    };
    match name {
        "" | "no" | "always" | "unless-stopped" if count.is_some() => Err(Error::usage(
            "invalid restart policy format: maximum retry count can only be used with 'on-failure'",
        )),
        "" => Ok(json!({"Name": "no", "MaximumRetryCount": 0})),
        "no" | "always" | "unless-stopped" | "on-failure" => {
            Ok(json!({"Name": name, "MaximumRetryCount": retries}))
        }
        _ => Err(bad()),
    }
}

/// Docker's capability names: upper case with a `CAP_` prefix, except `ALL`.
pub fn capability(s: &str) -> String {
    let up = s.to_uppercase();
    if up == "ALL" || up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files() {
        let text = "# comment\n\nA=1\n  B= spaced value \nHOMEISH\nUNSET_X\n";
        let got = parse_env_lines(text, |k| (k == "HOMEISH").then(|| "/root".to_string())).unwrap();
        assert_eq!(got, vec!["A=1", "B= spaced value ", "HOMEISH=/root"]);
        assert!(parse_env_lines("A B=1\n", |_| None).is_err());
    }

    #[test]
    fn restart_policies() {
        assert_eq!(
            restart_policy("on-failure:3").unwrap(),
            json!({"Name": "on-failure", "MaximumRetryCount": 3})
        );
        assert_eq!(restart_policy("always").unwrap()["Name"], "always");
        assert!(restart_policy("always:3").is_err());
        assert!(restart_policy("sometimes").is_err());
    }

    #[test]
    fn caps_and_labels() {
        assert_eq!(capability("net_admin"), "CAP_NET_ADMIN");
        assert_eq!(capability("ALL"), "ALL");
        let l = labels(&["a=b".into(), "c".into()], &[]).unwrap();
        assert_eq!(l["a"], "b");
        assert_eq!(l["c"], "");
    }
}
