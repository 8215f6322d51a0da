//! Daemon-wide commands: `version`, `info`, `events`, and the `system` group.

use std::io::BufReader;
use std::time::{Duration, UNIX_EPOCH};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{i, s, strs};
use crate::error::{Error, Result};
use crate::http::{filters_json, query, Client, API_VERSION};
use crate::humanize;
use crate::output::{errln, out, outln};
use crate::tabwriter;
use crate::template::Template;

/// `system COMMAND`
#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Show docker disk usage
    Df(super::disk::DfArgs),
    /// Remove unused data
    Prune(super::disk::PruneArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Get real time events from the server
    Events(EventsArgs),
}

/// `version [--format]`
#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// `info [--format]`
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// `events [OPTIONS]`
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
}

/// Runs a `system` subcommand.
pub fn run(client: &Client, cmd: &SystemCmd) -> Result<i32> {
    match cmd {
        SystemCmd::Df(a) => super::disk::df(client, a),
        SystemCmd::Prune(a) => super::disk::prune(client, a),
        SystemCmd::Info(a) => info(client, a),
        SystemCmd::Events(a) => events(client, a),
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn client_version() -> Value {
    json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": API_VERSION,
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
        "Context": "default",
    })
}

/// `berth version`.
pub fn version(client: &Client, a: &VersionArgs) -> Result<i32> {
    let server = client.get_json("/version");
    if let Some(f) = &a.format {
        let data = json!({"Client": client_version(), "Server": server.as_ref().ok()});
        out(&format!("{}\n", Template::parse(f)?.render(&data)?))?;
        return server.map(|_| 0);
    }
    let c = client_version();
    let mut text = format!(
        "Client:\n Version:\t{}\n API version:\t{}\n OS/Arch:\t{}/{}\n Context:\t{}\n",
        s(&c, "Version"),
        s(&c, "ApiVersion"),
        s(&c, "Os"),
        s(&c, "Arch"),
        s(&c, "Context")
    );
    let v = match server {
        Ok(v) => v,
        Err(e) => {
            out(&tabwriter::align(&text, 20, 1))?;
            return Err(e);
        }
    };
    text.push_str(&server_text(&v));
    out(&tabwriter::align(&text, 20, 1))?;
    Ok(0)
}

fn server_text(v: &Value) -> String {
    let platform = s(&v["Platform"], "Name");
    let mut text = String::from("\nServer:");
    if !platform.is_empty() {
        text.push(' ');
        text.push_str(platform);
    }
    text.push('\n');
    let engine = json!({
        "Name": "Engine", "Version": s(v, "Version"),
        "Details": {
            "ApiVersion": s(v, "ApiVersion"), "MinAPIVersion": s(v, "MinAPIVersion"),
            "GitCommit": s(v, "GitCommit"), "GoVersion": s(v, "GoVersion"),
            "BuildTime": s(v, "BuildTime"), "Os": s(v, "Os"), "Arch": s(v, "Arch"),
            "Experimental": v["Experimental"].as_bool().unwrap_or(false).to_string(),
        }
    });
    let components: Vec<Value> = match v["Components"].as_array() {
        Some(c) if !c.is_empty() => c.clone(),
        _ => vec![engine],
    };
    for comp in &components {
        let d = &comp["Details"];
        let name = s(comp, "Name");
        text.push_str(&format!(" {name}:\n  Version:\t{}\n", s(comp, "Version")));
        if name == "Engine" {
            let api = s(d, "ApiVersion");
            let min = s(d, "MinAPIVersion");
            if !api.is_empty() && !min.is_empty() {
                text.push_str(&format!("  API version:\t{api} (minimum version {min})\n"));
            } else if !api.is_empty() {
                text.push_str(&format!("  API version:\t{api}\n"));
            }
            for (label, key) in [
                ("Go version", "GoVersion"),
                ("Git commit", "GitCommit"),
                ("Built", "BuildTime"),
            ] {
                let mut val = s(d, key).to_string();
                if key == "BuildTime" {
                    if let Some(t) = humanize::parse_rfc3339(&val) {
                        val = humanize::ansic(t);
                    }
                }
                if !val.is_empty() {
                    text.push_str(&format!("  {label}:\t{val}\n"));
                }
            }
            text.push_str(&format!("  OS/Arch:\t{}/{}\n", s(d, "Os"), s(d, "Arch")));
            if !s(d, "Experimental").is_empty() {
                text.push_str(&format!("  Experimental:\t{}\n", s(d, "Experimental")));
            }
        } else if let Some(m) = d.as_object() {
            for (k, val) in m {
                text.push_str(&format!("  {k}:\t{}\n", val.as_str().unwrap_or("")));
            }
        }
    }
    text
}

/// `berth info`.
pub fn info(client: &Client, a: &InfoArgs) -> Result<i32> {
    let v = client.get_json("/info")?;
    if let Some(f) = &a.format {
        out(&format!("{}\n", Template::parse(f)?.render(&v)?))?;
        return Ok(0);
    }
    out(&info_text(&v))?;
    for w in strs(&v, "Warnings") {
        errln(&w);
    }
    Ok(0)
}

/// docker's `info` text for a `/info` answer (fields the daemon leaves out are skipped).
pub fn info_text(v: &Value) -> String {
    let mut t = format!(
        "Client:\n Version:    {}\n Context:    default\n Debug Mode: false\n\nServer:\n",
        env!("CARGO_PKG_VERSION")
    );
    t.push_str(&format!(
        " Containers: {}\n  Running: {}\n  Paused: {}\n  Stopped: {}\n Images: {}\n",
        i(v, "Containers"),
        i(v, "ContainersRunning"),
        i(v, "ContainersPaused"),
        i(v, "ContainersStopped"),
        i(v, "Images")
    ));
    let fields = [
        ("Server Version", "ServerVersion"),
        ("Storage Driver", "Driver"),
        ("Logging Driver", "LoggingDriver"),
        ("Cgroup Driver", "CgroupDriver"),
        ("Cgroup Version", "CgroupVersion"),
        ("Default Runtime", "DefaultRuntime"),
        ("Kernel Version", "KernelVersion"),
        ("Operating System", "OperatingSystem"),
        ("OSType", "OSType"),
        ("Architecture", "Architecture"),
    ];
    for (label, key) in fields {
        if !s(v, key).is_empty() {
            t.push_str(&format!(" {label}: {}\n", s(v, key)));
        }
    }
    if v.get("NCPU").is_some() {
        t.push_str(&format!(" CPUs: {}\n", i(v, "NCPU")));
    }
    if v.get("MemTotal").is_some() {
        t.push_str(&format!(
            " Total Memory: {}\n",
            humanize::bytes_size(i(v, "MemTotal") as f64)
        ));
    }
    for (label, key) in [
        ("Name", "Name"),
        ("ID", "ID"),
        ("Docker Root Dir", "DockerRootDir"),
    ] {
        if !s(v, key).is_empty() {
            t.push_str(&format!(" {label}: {}\n", s(v, key)));
        }
    }
    t.push_str(&format!(
        " Debug Mode: {}\n Experimental: {}\n",
        v["Debug"].as_bool().unwrap_or(false),
        v["ExperimentalBuild"].as_bool().unwrap_or(false)
    ));
    let cidrs = strs(&v["RegistryConfig"], "InsecureRegistryCIDRs");
    if !cidrs.is_empty() {
        t.push_str(" Insecure Registries:\n");
        for c in cidrs {
            t.push_str(&format!("  {c}\n"));
        }
    }
    t.push_str(&format!(
        " Live Restore Enabled: {}\n\n",
        v["LiveRestoreEnabled"].as_bool().unwrap_or(false)
    ));
    t
}

/// docker's one-line event: "2024-01-02T03:04:05.000000000Z container start ID (k=v, ...)".
pub fn event_line(e: &Value) -> String {
    let nanos = e["timeNano"]
        .as_u64()
        .or_else(|| e["time"].as_u64().map(|t| t * 1_000_000_000));
    let mut line = String::new();
    if let Some(n) = nanos {
        let t = UNIX_EPOCH + Duration::from_nanos(n);
        line.push_str(&humantime::format_rfc3339_nanos(t).to_string());
        line.push(' ');
    }
    let actor = &e["Actor"];
    line.push_str(&format!(
        "{} {} {}",
        s(e, "Type"),
        s(e, "Action"),
        s(actor, "ID")
    ));
    if let Some(attrs) = actor["Attributes"].as_object().filter(|m| !m.is_empty()) {
        let mut kv: Vec<String> = attrs
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        kv.sort();
        line.push_str(&format!(" ({})", kv.join(", ")));
    }
    line
}

/// `berth events`.
pub fn events(client: &Client, a: &EventsArgs) -> Result<i32> {
    let mut q = Vec::new();
    for (k, v) in [("since", &a.since), ("until", &a.until)] {
        if let Some(v) = v {
            let t = humanize::parse_time_arg(v)
                .ok_or_else(|| Error::usage(format!("invalid value for \"{k}\": {v}")))?;
            q.push((k, t));
        }
    }
    if let Some(f) = filters_json(&a.filter)? {
        q.push(("filters", f));
    }
    let tmpl = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(Template::parse("{{json .}}")?),
        Some(f) => Some(Template::parse(f)?),
    };
    let resp = client.req("GET", &format!("/events{}", query(&q))).call()?;
    for ev in serde_json::Deserializer::from_reader(BufReader::new(resp)).into_iter::<Value>() {
        let ev = ev?;
        let line = match &tmpl {
            Some(t) => t.render(&ev)?,
            None => event_line(&ev),
        };
        outln(&line)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines() {
        let e = json!({"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "web", "image": "busybox"}}, "time": 1, "timeNano": 1_000_000_001u64});
        assert_eq!(
            event_line(&e),
            "1970-01-01T00:00:01.000000001Z container start abc (image=busybox, name=web)"
        );
    }

    #[test]
    fn version_layout() {
        let v = json!({"Version": "0.1.0", "ApiVersion": "1.43", "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64"});
        let t = tabwriter::align(&server_text(&v), 20, 1);
        assert!(t.contains("\n Engine:\n  Version:          0.1.0\n  API version:      1.43 (minimum version 1.24)\n"), "{t}");
    }
}
