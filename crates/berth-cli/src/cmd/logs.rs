//! `logs`: the container's output, demultiplexed (or raw for a tty container), followed with
//! `-f` as the daemon streams it.

use std::io;

use clap::Args;

use super::{cpath, inspect_container};
use crate::error::{Error, Result};
use crate::http::{query, Client};
use crate::humanize;
use crate::stream;

/// `logs [OPTIONS] CONTAINER`
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative time
    #[arg(long)]
    pub until: Option<String>,
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    pub container: String,
}

fn time_arg(flag: &str, v: &str) -> Result<String> {
    humanize::parse_time_arg(v)
        .ok_or_else(|| Error::usage(format!("invalid value for \"{flag}\": {v}")))
}

/// `berth logs`.
pub fn logs(client: &Client, a: &LogsArgs) -> Result<i32> {
    let info = inspect_container(client, &a.container)?;
    let id = super::s(&info, "Id").to_string();
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut q = vec![("stdout", "1".to_string()), ("stderr", "1".to_string())];
    if a.follow {
        q.push(("follow", "1".into()));
    }
    if a.tail != "all" {
        q.push(("tail", a.tail.clone()));
    }
    if a.timestamps {
        q.push(("timestamps", "1".into()));
    }
    if a.details {
        q.push(("details", "1".into()));
    }
    if let Some(s) = &a.since {
        q.push(("since", time_arg("since", s)?));
    }
    if let Some(u) = &a.until {
        q.push(("until", time_arg("until", u)?));
    }
    let mut resp = client
        .req("GET", &format!("{}/logs{}", cpath(&id), query(&q)))
        .call()?;
    let raw = match resp.header("content-type") {
        Some(ct) if ct.contains("multiplexed") => false,
        Some(ct) if ct.contains("raw-stream") => true,
        _ => tty,
    };
    if raw {
        stream::copy_raw(&mut resp, &mut io::stdout())?;
    } else {
        stream::demux(&mut resp, &mut io::stdout(), &mut io::stderr())?;
    }
    Ok(0)
}
