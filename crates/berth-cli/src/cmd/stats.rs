//! `stats`: CPU, memory, network, block I/O and pids per container, computed from the
//! daemon's raw cgroup numbers the way docker computes them.

use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};

use super::{cpath, i, s, short_id};
use crate::error::Result;
use crate::format;
use crate::http::Client;
use crate::humanize;
use crate::output::out;
use crate::term;

/// `stats [OPTIONS] [CONTAINER...]`
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

const DEFAULT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

fn header() -> Value {
    json!({
        "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

fn u(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// docker's CPU percentage: container CPU time over system CPU time, times online CPUs.
pub fn cpu_percent(st: &Value) -> f64 {
    let cpu = &st["cpu_stats"];
    let pre = &st["precpu_stats"];
    let cpu_delta = u(&cpu["cpu_usage"]["total_usage"]) - u(&pre["cpu_usage"]["total_usage"]);
    let sys_delta = u(&cpu["system_cpu_usage"]) - u(&pre["system_cpu_usage"]);
    let mut online = u(&cpu["online_cpus"]);
    if online == 0.0 {
        online = cpu["cpu_usage"]["percpu_usage"]
            .as_array()
            .map(|a| a.len() as f64)
            .unwrap_or(0.0);
    }
    if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    }
}

/// Memory in use without the page cache (cgroup v1 `total_inactive_file`, v2 `inactive_file`).
pub fn mem_usage(st: &Value) -> f64 {
    let m = &st["memory_stats"];
    let usage = u(&m["usage"]);
    for key in ["total_inactive_file", "inactive_file"] {
        let cache = u(&m["stats"][key]);
        if m["stats"].get(key).is_some() && cache < usage {
            return usage - cache;
        }
    }
    usage
}

/// One `stats` row from a stats sample.
pub fn row(st: &Value, given: &str, trunc: bool) -> Value {
    let id = s(st, "id");
    let name = s(st, "name").trim_start_matches('/');
    let mem = mem_usage(st);
    let limit = u(&st["memory_stats"]["limit"]);
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in st["networks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, n)| n)
    {
        rx += u(&n["rx_bytes"]);
        tx += u(&n["tx_bytes"]);
    }
    let (mut read, mut write) = (0.0, 0.0);
    for e in st["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match s(e, "op").to_lowercase().as_str() {
            "read" => read += u(&e["value"]),
            "write" => write += u(&e["value"]),
            _ => {}
        }
    }
    let mem_pct = if limit > 0.0 {
        mem / limit * 100.0
    } else {
        0.0
    };
    json!({
        "Container": if given.is_empty() { short_id(id) } else { given.to_string() },
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Name": if name.is_empty() { "--" } else { name },
        "CPUPerc": format!("{:.2}%", cpu_percent(st)),
        "MemUsage": format!("{} / {}", humanize::bytes_size(mem), humanize::bytes_size(limit)),
        "MemPerc": format!("{mem_pct:.2}%"),
        "NetIO": format!("{} / {}", humanize::size_prec(rx, 3), humanize::size_prec(tx, 3)),
        "BlockIO": format!("{} / {}", humanize::size_prec(read, 3), humanize::size_prec(write, 3)),
        "PIDs": i(&st["pids_stats"], "current").to_string(),
    })
}

/// `berth stats`.
pub fn stats(client: &Client, a: &StatsArgs) -> Result<i32> {
    let targets: Vec<(String, String)> = if a.containers.is_empty() {
        let q = if a.all { "?all=1" } else { "" };
        let list = client.get_json(&format!("/containers/json{q}"))?;
        list.as_array()
            .into_iter()
            .flatten()
            .map(|c| (s(c, "Id").to_string(), String::new()))
            .collect()
    } else {
        a.containers
            .iter()
            .map(|c| (c.clone(), c.clone()))
            .collect()
    };
    let clear = !a.no_stream && term::stdout_is_tty();
    loop {
        let mut rows = Vec::new();
        for (id, given) in &targets {
            let st = client.get_json(&format!("{}/stats?stream=0", cpath(id)))?;
            rows.push(row(&st, given, !a.no_trunc));
        }
        let table = format::list(a.format.as_deref(), DEFAULT, &header(), &rows)?;
        if clear {
            out("\x1b[2J\x1b[H")?;
        }
        out(&table)?;
        if a.no_stream {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_like_docker() {
        let st = json!({
            "id": "0123456789abcdef", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 200}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 2_097_152u64, "limit": 1_073_741_824u64, "stats": {"total_inactive_file": 1_048_576}},
            "networks": {"eth0": {"rx_bytes": 1050, "tx_bytes": 0}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 0}]},
            "pids_stats": {"current": 3}
        });
        let r = row(&st, "", true);
        assert_eq!(r["CPUPerc"], "20.00%");
        assert_eq!(r["MemUsage"], "1MiB / 1GiB");
        assert_eq!(r["MemPerc"], "0.10%");
        assert_eq!(r["NetIO"], "1.05kB / 0B");
        assert_eq!(r["BlockIO"], "4.1kB / 0B");
        assert_eq!(r["PIDs"], "3");
        assert_eq!(r["Name"], "web");
    }
}
