//! `inspect`: containers, images, volumes and networks by name, trying each kind in docker's
//! order when no `--type` is given; the daemon's JSON re-indented (its key order kept), or
//! `--format` output.

use clap::Args;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::format;
use crate::http::{enc_path, Client};
use crate::output::{errln, out};

/// `inspect [OPTIONS] NAME|ID [NAME|ID...]`
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    pub size: bool,
    /// Return JSON for specified type (container, image, network, volume)
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(value_name = "NAME|ID", required = true)]
    pub names: Vec<String>,
}

const KINDS: [&str; 4] = ["container", "image", "network", "volume"];

fn path(kind: &str, name: &str, size: bool) -> String {
    let n = enc_path(name);
    match kind {
        "container" if size => format!("/containers/{n}/json?size=1"),
        "container" => format!("/containers/{n}/json"),
        "image" => format!("/images/{n}/json"),
        "network" => format!("/networks/{n}"),
        _ => format!("/volumes/{n}"),
    }
}

/// One inspected object: the daemon's bytes and their parsed value.
pub struct Found {
    pub raw: Vec<u8>,
    pub value: Value,
}

/// Looks `name` up as `kind` (its 404 is an error then), or as each kind in turn (None when
/// nothing has that name).
pub fn find(client: &Client, name: &str, kind: Option<&str>, size: bool) -> Result<Option<Found>> {
    let kinds: Vec<&str> = match kind {
        Some(k) => vec![k],
        None => KINDS.to_vec(),
    };
    for k in kinds {
        match client.req("GET", &path(k, name, size)).call() {
            Ok(resp) => {
                let raw = resp.bytes()?;
                let value = serde_json::from_slice(&raw)?;
                return Ok(Some(Found { raw, value }));
            }
            Err(e) if e.is_status(404) && kind.is_none() => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Prints what was found as docker's inspect does, then the errors.
pub fn print(format_str: Option<&str>, found: &[Found], errors: &[String]) -> Result<i32> {
    match format_str.map(str::trim).filter(|f| !f.is_empty()) {
        None => {
            let raws: Vec<&[u8]> = found.iter().map(|f| f.raw.as_slice()).collect();
            out(&format::inspect_raw(&raws))?;
        }
        Some(f) => {
            let values: Vec<Value> = found.iter().map(|f| f.value.clone()).collect();
            let text = format::inspect(Some(f), &values)?;
            out(if text.is_empty() { "\n" } else { &text })?;
        }
    }
    for e in errors {
        errln(e);
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(Error::Exit(1))
    }
}

/// `berth inspect`.
pub fn inspect(client: &Client, a: &InspectArgs) -> Result<i32> {
    if let Some(k) = &a.kind {
        if !KINDS.contains(&k.as_str()) {
            return Err(Error::msg(format!(
                "\"{k}\" is not a valid value for --type"
            )));
        }
    }
    by_kind(
        client,
        &a.names,
        a.kind.as_deref(),
        a.format.as_deref(),
        a.size,
    )
}

/// Inspects `names` as `kind` (any kind when None) and prints them.
pub fn by_kind(
    client: &Client,
    names: &[String],
    kind: Option<&str>,
    format_str: Option<&str>,
    size: bool,
) -> Result<i32> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in names {
        match find(client, n, kind, size) {
            Ok(Some(f)) => found.push(f),
            Ok(None) => errors.push(format!("Error: No such object: {n}")),
            Err(e @ Error::Daemon { status: 404, .. }) => errors.push(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    print(format_str, &found, &errors)
}
