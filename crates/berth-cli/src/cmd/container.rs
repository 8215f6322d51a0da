//! Container lifecycle commands: start, stop, restart, kill, rm, pause, unpause, rename,
//! wait, top, port, diff, and `container prune`.

use std::thread;

use clap::Args;
use serde_json::Value;

use super::run::watch_signals;
use super::{cpath, each, inspect_container};
use crate::error::{Error, Result};
use crate::hijack::{self, Ended};
use crate::http::{query, Client};
use crate::humanize;
use crate::output::{confirm, errln, out, outln};
use crate::tabwriter;
use crate::term;

/// One or more containers.
#[derive(Args, Debug)]
pub struct NamesArgs {
    /// Containers (names or ids)
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `start [-a] [-i] CONTAINER...`
#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `stop`/`restart [-t N] [-s SIGNAL] CONTAINER...`
#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        allow_hyphen_values = true
    )]
    pub time: Option<i64>,
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `kill [-s SIGNAL] CONTAINER...`
#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `rm [-f] [-v] CONTAINER...`
#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove the specified link
    #[arg(short = 'l', long)]
    pub link: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// `rename CONTAINER NEW_NAME`
#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

/// `top CONTAINER [ps OPTIONS]`
#[derive(Args, Debug)]
pub struct TopArgs {
    pub container: String,
    /// Options for ps
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`
#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    pub port: Option<String>,
}

/// `container prune [-f] [--filter]`
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
}

/// `berth start`.
pub fn start(client: &Client, a: &StartArgs) -> Result<i32> {
    if !(a.attach || a.interactive) {
        let mut failed = Vec::new();
        for c in &a.containers {
            match client.post(&format!("{}/start", cpath(c))) {
                Ok(()) => outln(c)?,
                Err(e) => {
                    errln(&e.to_string());
                    failed.push(c.as_str());
                }
            }
        }
        if !failed.is_empty() {
            errln(&format!(
                "Error: failed to start containers: {}",
                failed.join(", ")
            ));
            return Err(Error::Exit(1));
        }
        return Ok(0);
    }
    if a.containers.len() > 1 {
        return Err(Error::msg(
            "you cannot start and attach multiple containers at once",
        ));
    }
    let name = &a.containers[0];
    let info = inspect_container(client, name)?;
    let id = super::s(&info, "Id").to_string();
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = a.interactive && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    watch_signals(client, &id, tty, true, "containers")?;
    let q = query(&[
        ("stream", "1".into()),
        ("stdin", if stdin { "1" } else { "0" }.into()),
        ("stdout", "1".into()),
        ("stderr", "1".into()),
    ]);
    let attaching = client
        .req("POST", &format!("{}/attach{q}", cpath(&id)))
        .start_hijack()?;
    let waiter = client
        .req("POST", &format!("{}/wait?condition=next-exit", cpath(&id)))
        .start()?;
    let waiting =
        thread::spawn(move || -> Result<Value> { waiter.finish()?.error_for_status()?.json() });
    client.post(&format!("{}/start", cpath(&id)))?;
    let h = attaching.hijacked()?;
    if tty {
        super::run::resize(client, "containers", &id);
    }
    let raw = if tty && stdin {
        term::RawMode::enter()?
    } else {
        None
    };
    let ended = hijack::pump(h, tty, stdin);
    drop(raw);
    if ended? == Ended::Detached {
        return Ok(0);
    }
    let status = waiting
        .join()
        .map_err(|_| Error::msg("the wait thread failed"))??;
    Ok(super::i(&status, "StatusCode") as i32)
}

/// `berth stop` / `berth restart` (`action` is "stop" or "restart").
pub fn stop(client: &Client, a: &StopArgs, action: &str) -> Result<i32> {
    let mut q = Vec::new();
    if let Some(s) = &a.signal {
        q.push(("signal", s.clone()));
    }
    if let Some(t) = a.time {
        q.push(("t", t.to_string()));
    }
    let q = query(&q);
    each(&a.containers, true, |c| {
        client.post(&format!("{}/{action}{q}", cpath(c)))
    })?;
    Ok(0)
}

/// `berth kill`.
pub fn kill(client: &Client, a: &KillArgs) -> Result<i32> {
    let q = match &a.signal {
        Some(s) => query(&[("signal", s.clone())]),
        None => String::new(),
    };
    each(&a.containers, true, |c| {
        client.post(&format!("{}/kill{q}", cpath(c)))
    })?;
    Ok(0)
}

/// `berth rm`.
pub fn rm(client: &Client, a: &RmArgs) -> Result<i32> {
    let mut q = Vec::new();
    if a.force {
        q.push(("force", "1".to_string()));
    }
    if a.volumes {
        q.push(("v", "1".to_string()));
    }
    if a.link {
        q.push(("link", "1".to_string()));
    }
    let q = query(&q);
    each(&a.containers, true, |c| {
        client.delete(&format!("{}{q}", cpath(c))).map(|_| ())
    })?;
    Ok(0)
}

/// `berth pause` / `berth unpause`.
pub fn pause(client: &Client, a: &NamesArgs, action: &str) -> Result<i32> {
    each(&a.containers, true, |c| {
        client.post(&format!("{}/{action}", cpath(c)))
    })?;
    Ok(0)
}

/// `berth rename`.
pub fn rename(client: &Client, a: &RenameArgs) -> Result<i32> {
    let name = a.new_name.trim();
    if name.is_empty() {
        return Err(Error::msg("Error: Neither old nor new names may be empty"));
    }
    client.post(&format!(
        "{}/rename{}",
        cpath(&a.container),
        query(&[("name", name.to_string())])
    ))?;
    Ok(0)
}

/// `berth wait`: prints each container's exit status.
pub fn wait(client: &Client, a: &NamesArgs) -> Result<i32> {
    each(&a.containers, false, |c| {
        let v = client.post_json(&format!("{}/wait", cpath(c)), None)?;
        outln(&super::i(&v, "StatusCode").to_string())
    })?;
    Ok(0)
}

/// `diff CONTAINER`
#[derive(Args, Debug)]
pub struct DiffArgs {
    pub container: String,
}

/// `berth diff`: `C /etc`, `A /tmp/x`, `D /bin/cat`, as docker prints them.
pub fn diff(client: &Client, a: &DiffArgs) -> Result<i32> {
    let v = client.get_json(&format!("{}/changes", cpath(&a.container)))?;
    for c in v.as_array().into_iter().flatten() {
        let kind = match super::i(c, "Kind") {
            0 => "C",
            1 => "A",
            _ => "D",
        };
        outln(&format!("{kind} {}", super::s(c, "Path")))?;
    }
    Ok(0)
}

/// `berth top`: the daemon's ps table, aligned like docker's (minimum width 20).
pub fn top(client: &Client, a: &TopArgs) -> Result<i32> {
    let q = if a.ps_args.is_empty() {
        String::new()
    } else {
        query(&[("ps_args", a.ps_args.join(" "))])
    };
    let v = client.get_json(&format!("{}/top{q}", cpath(&a.container)))?;
    let mut text = super::strs(&v, "Titles").join("\t");
    text.push('\n');
    for row in v["Processes"].as_array().into_iter().flatten() {
        let cells: Vec<String> = row
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c.as_str().unwrap_or("").to_string())
            .collect();
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    out(&tabwriter::align(&text, 20, 3))?;
    Ok(0)
}

fn join_host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The "80/tcp -> 0.0.0.0:8080" lines of a container's published ports, sorted.
pub fn port_lines(info: &Value, only: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(ports) = info["NetworkSettings"]["Ports"].as_object() {
        for (port, bindings) in ports {
            if only.is_some_and(|o| o != port) {
                continue;
            }
            for b in bindings.as_array().into_iter().flatten() {
                let hp = join_host_port(super::s(b, "HostIp"), super::s(b, "HostPort"));
                lines.push(if only.is_some() {
                    hp
                } else {
                    format!("{port} -> {hp}")
                });
            }
        }
    }
    lines.sort_by_key(|l| {
        let n: u32 = l
            .split('/')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        (n, l.clone())
    });
    lines
}

/// `berth port`.
pub fn port(client: &Client, a: &PortArgs) -> Result<i32> {
    let info = inspect_container(client, &a.container)?;
    let only = a.port.as_ref().map(|p| {
        if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        }
    });
    let lines = port_lines(&info, only.as_deref());
    if let (Some(p), true) = (&only, lines.is_empty()) {
        return Err(Error::msg(format!(
            "Error: No public port '{p}' published for {}",
            a.container
        )));
    }
    for l in lines {
        outln(&l)?;
    }
    Ok(0)
}

/// `berth container prune`.
pub fn prune(client: &Client, a: &PruneArgs) -> Result<i32> {
    if !a.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let q = match crate::http::filters_json(&a.filter)? {
        Some(f) => query(&[("filters", f)]),
        None => String::new(),
    };
    let v = client.post_json(&format!("/containers/prune{q}"), None)?;
    let deleted = super::strs(&v, "ContainersDeleted");
    if !deleted.is_empty() {
        outln("Deleted Containers:")?;
        for d in &deleted {
            outln(d)?;
        }
        outln("")?;
    }
    outln(&format!(
        "Total reclaimed space: {}",
        humanize::size(super::i(&v, "SpaceReclaimed") as f64)
    ))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_listing() {
        let info = json!({"NetworkSettings": {"Ports": {
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
            "443/tcp": null,
            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]
        }}});
        assert_eq!(
            port_lines(&info, None),
            vec![
                "53/udp -> 127.0.0.1:5353",
                "80/tcp -> 0.0.0.0:8080",
                "80/tcp -> [::]:8080"
            ]
        );
        assert_eq!(
            port_lines(&info, Some("80/tcp")),
            vec!["0.0.0.0:8080", "[::]:8080"]
        );
    }
}
