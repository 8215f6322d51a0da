//! The commands, one module per family, and helpers they share.

pub mod auth;
pub mod container;
pub mod cp;
pub mod create_body;
pub mod disk;
pub mod exec;
pub mod images;
pub mod inspect;
pub mod logs;
pub mod network;
pub mod ps;
pub mod run;
pub mod run_flags;
pub mod stats;
pub mod system;
pub mod transfer;
pub mod update;
pub mod volume;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::{enc_path, Client};
use crate::output::{errln, outln};

/// An id as docker shows it: without `sha256:`, 12 characters.
pub fn short_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

/// `/containers/{name}` with the name escaped.
pub fn cpath(name: &str) -> String {
    format!("/containers/{}", enc_path(name))
}

/// `GET /containers/{name}/json`.
pub fn inspect_container(client: &Client, name: &str) -> Result<Value> {
    client.get_json(&format!("{}/json", cpath(name)))
}

/// Runs `f` for each name, printing the name on success (when `echo`) and docker's error on
/// failure, and fails with exit status 1 after all when any failed.
pub fn each(names: &[String], echo: bool, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut failed = false;
    for n in names {
        match f(n) {
            Ok(()) => {
                if echo {
                    outln(n)?;
                }
            }
            Err(Error::Exit(0)) => return Err(Error::Exit(0)),
            Err(e) => {
                errln(&e.to_string());
                failed = true;
            }
        }
    }
    if failed {
        Err(Error::Exit(1))
    } else {
        Ok(())
    }
}

/// A string field of a JSON value ("" when missing).
pub fn s<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// An integer field of a JSON value (0 when missing).
pub fn i(v: &Value, key: &str) -> i64 {
    v.get(key)
        .and_then(|x| x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)))
        .unwrap_or(0)
}

/// A string array field of a JSON value (empty when missing or null).
pub fn strs(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
