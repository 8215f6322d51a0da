//! `volume create / ls / inspect / rm / prune`.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{each, i, s};
use crate::error::Result;
use crate::format;
use crate::http::{enc_path, filters_json, query, Client};
use crate::humanize;
use crate::opts;
use crate::output::{confirm, out, outln};

/// `volume COMMAND`
#[derive(Subcommand, Debug)]
pub enum VolumeCmd {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
}

/// `volume create [OPTIONS] [VOLUME]`
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Specify volume name
    #[arg(long = "name")]
    pub name_flag: Option<String>,
    pub name: Option<String>,
}

/// `volume ls [OPTIONS]`
#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
}

/// `volume inspect [OPTIONS] VOLUME [VOLUME...]`
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(value_name = "VOLUME", required = true)]
    pub names: Vec<String>,
}

/// `volume rm [OPTIONS] VOLUME [VOLUME...]`
#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "VOLUME", required = true)]
    pub names: Vec<String>,
}

/// `volume prune [OPTIONS]`
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long)]
    pub filter: Vec<String>,
}

/// Runs a `volume` subcommand.
pub fn run(client: &Client, cmd: &VolumeCmd) -> Result<i32> {
    match cmd {
        VolumeCmd::Create(a) => create(client, a),
        VolumeCmd::Ls(a) => ls(client, a),
        VolumeCmd::Inspect(a) => {
            super::inspect::by_kind(client, &a.names, Some("volume"), a.format.as_deref(), false)
        }
        VolumeCmd::Rm(a) => {
            let q = if a.force { "?force=1" } else { "" };
            each(&a.names, true, |n| {
                client
                    .delete(&format!("/volumes/{}{q}", enc_path(n)))
                    .map(|_| ())
            })?;
            Ok(0)
        }
        VolumeCmd::Prune(a) => prune(client, a),
    }
}

fn create(client: &Client, a: &CreateArgs) -> Result<i32> {
    let name = a
        .name
        .clone()
        .or_else(|| a.name_flag.clone())
        .unwrap_or_default();
    let body = json!({
        "Driver": a.driver,
        "DriverOpts": opts::kv_map(&a.opt, "-o, --opt")?,
        "Labels": opts::labels(&a.label, &[])?,
        "Name": name,
    });
    let v = client.post_json("/volumes/create", Some(&body))?;
    outln(s(&v, "Name"))?;
    Ok(0)
}

fn row(v: &Value) -> Value {
    let mut labels: Vec<String> = v["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or("")))
        .collect();
    labels.sort();
    let usage = &v["UsageData"];
    let (size, links) = if usage.is_object() && i(usage, "Size") >= 0 {
        (
            humanize::size(i(usage, "Size") as f64),
            i(usage, "RefCount").to_string(),
        )
    } else {
        ("N/A".to_string(), "N/A".to_string())
    };
    json!({
        "Name": s(v, "Name"), "Driver": s(v, "Driver"), "Scope": s(v, "Scope"),
        "Mountpoint": s(v, "Mountpoint"), "Labels": labels.join(","),
        "CreatedAt": s(v, "CreatedAt"), "Size": size, "Links": links,
    })
}

fn ls(client: &Client, a: &LsArgs) -> Result<i32> {
    let q = match filters_json(&a.filter)? {
        Some(f) => query(&[("filters", f)]),
        None => String::new(),
    };
    let v = client.get_json(&format!("/volumes{q}"))?;
    let mut vols: Vec<&Value> = v["Volumes"].as_array().into_iter().flatten().collect();
    vols.sort_by(|a, b| s(a, "Name").cmp(s(b, "Name")));
    let rows: Vec<Value> = vols.into_iter().map(row).collect();
    let default = "table {{.Driver}}\t{{.Name}}";
    let fmt = match (&a.format, a.quiet) {
        (Some(f), _) => f.as_str(),
        (None, true) => "{{.Name}}",
        (None, false) => default,
    };
    let header = json!({
        "Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
        "Labels": "LABELS", "CreatedAt": "CREATED AT", "Size": "SIZE", "Links": "LINKS",
    });
    out(&format::list(Some(fmt), default, &header, &rows)?)?;
    Ok(0)
}

fn prune(client: &Client, a: &PruneArgs) -> Result<i32> {
    let warning = if a.all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !a.force && !confirm(warning)? {
        return Ok(0);
    }
    let mut filters = a.filter.clone();
    if a.all {
        filters.push("all=true".into());
    }
    let q = match filters_json(&filters)? {
        Some(f) => query(&[("filters", f)]),
        None => String::new(),
    };
    let v = client.post_json(&format!("/volumes/prune{q}"), None)?;
    print_deleted("Deleted Volumes:", &super::strs(&v, "VolumesDeleted"))?;
    outln(&format!(
        "Total reclaimed space: {}",
        humanize::size(i(&v, "SpaceReclaimed") as f64)
    ))?;
    Ok(0)
}

/// A "Deleted X:" block followed by a blank line; nothing when the list is empty.
pub fn print_deleted(title: &str, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    outln(title)?;
    for n in names {
        outln(n)?;
    }
    outln("")
}
