//! `--change` instructions for `import` (and commit): `CMD`, `ENTRYPOINT`, `ENV`,
//! `WORKDIR`, `USER`, `EXPOSE`, `LABEL` and `VOLUME` in Dockerfile syntax, applied to
//! the `config` object of an image config.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The instructions `--change` accepts.
pub const SUPPORTED_CHANGES: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "WORKDIR",
    "USER",
    "EXPOSE",
    "LABEL",
    "VOLUME",
];

fn bad(change: &str, reason: impl Into<String>) -> Error {
    Error::InvalidChange {
        change: change.to_string(),
        reason: reason.into(),
    }
}

/// Applies each change, in order, to `config` (the image config's `config` object:
/// `Cmd`, `Entrypoint`, `Env`, `WorkingDir`, `User`, `ExposedPorts`, `Labels`, `Volumes`).
pub fn apply_changes(config: &mut Map<String, Value>, changes: &[String]) -> Result<()> {
    for change in changes {
        apply_one(config, change)?;
    }
    Ok(())
}

fn apply_one(config: &mut Map<String, Value>, change: &str) -> Result<()> {
    let line = change.trim();
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (line, ""),
    };
    let instruction = word.to_ascii_uppercase();
    if !SUPPORTED_CHANGES.contains(&instruction.as_str()) {
        return Err(bad(
            change,
            format!(
                "unsupported instruction {word:?} (supported: {})",
                SUPPORTED_CHANGES.join(", ")
            ),
        ));
    }
    if rest.is_empty() {
        return Err(bad(change, format!("{instruction} needs an argument")));
    }
    match instruction.as_str() {
        "CMD" => set_strings(config, "Cmd", exec_form(rest, change)?),
        "ENTRYPOINT" => set_strings(config, "Entrypoint", exec_form(rest, change)?),
        "WORKDIR" => set(config, "WorkingDir", Value::String(rest.to_string())),
        "USER" => set(config, "User", Value::String(rest.to_string())),
        "ENV" => {
            let mut env: Vec<String> = strings(config.get("Env"));
            for (k, v) in pairs(rest, change)? {
                let prefix = format!("{k}=");
                env.retain(|e| !e.starts_with(&prefix));
                env.push(format!("{k}={v}"));
            }
            set_strings(config, "Env", env);
        }
        "LABEL" => {
            for (k, v) in pairs(rest, change)? {
                insert(config, "Labels", k, Value::String(v));
            }
        }
        "EXPOSE" => {
            for spec in words(rest, change)? {
                for port in ports(&spec, change)? {
                    insert(config, "ExposedPorts", port, Value::Object(Map::new()));
                }
            }
        }
        "VOLUME" => {
            let paths = match json_array(rest) {
                Some(v) => v,
                None => words(rest, change)?,
            };
            for p in paths {
                if p.is_empty() {
                    return Err(bad(change, "empty volume path"));
                }
                insert(config, "Volumes", p, Value::Object(Map::new()));
            }
        }
        _ => return Err(bad(change, "unsupported instruction")),
    }
    Ok(())
}

fn set(config: &mut Map<String, Value>, key: &str, value: Value) {
    config.insert(key.to_string(), value);
}

fn set_strings(config: &mut Map<String, Value>, key: &str, values: Vec<String>) {
    set(
        config,
        key,
        Value::Array(values.into_iter().map(Value::String).collect()),
    );
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Inserts `k: v` into the object `config[key]` (created, or replacing a non-object).
fn insert(config: &mut Map<String, Value>, key: &str, k: String, v: Value) {
    let mut map = match config.remove(key) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    map.insert(k, v);
    config.insert(key.to_string(), Value::Object(map));
}

fn json_array(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str(rest).ok()
}

/// JSON (exec) form, or shell form run by `/bin/sh -c`.
fn exec_form(rest: &str, change: &str) -> Result<Vec<String>> {
    match json_array(rest) {
        Some(v) if v.is_empty() => Err(bad(change, "empty command")),
        Some(v) => Ok(v),
        None => Ok(vec!["/bin/sh".into(), "-c".into(), rest.to_string()]),
    }
}

/// Splits on unquoted whitespace; quotes are removed, `\` escapes the next character
/// (inside single quotes everything is literal).
fn words(s: &str, change: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => match chars.next() {
                Some(n) => cur.push(n),
                None => return Err(bad(change, "trailing backslash")),
            },
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(bad(change, "unterminated quote"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `k=v k2="v 2"` pairs, or the legacy `key value with spaces` form.
fn pairs(rest: &str, change: &str) -> Result<Vec<(String, String)>> {
    let list = words(rest, change)?;
    let legacy = list.first().is_some_and(|w| !w.contains('='));
    if legacy {
        let (key, value) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad(change, "expected key=value"))?;
        return Ok(vec![(key.to_string(), value.trim().to_string())]);
    }
    list.into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(bad(change, format!("expected key=value, got {w:?}"))),
        })
        .collect()
}

/// `80`, `80/udp`, `8000-8002/tcp` as `port/proto` keys.
fn ports(spec: &str, change: &str) -> Result<Vec<String>> {
    let (range, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad(change, format!("unknown protocol {proto:?}")));
    }
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| bad(change, format!("invalid port {p:?}")))
    };
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(range)?, port(range)?),
    };
    if lo > hi {
        return Err(bad(change, format!("invalid port range {range:?}")));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}
