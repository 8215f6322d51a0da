//! `GET /containers/{id}/stats`: one sample (`stream=false`, `docker stats --no-stream`) or
//! a sample a second for as long as the client reads and the container runs, each carrying
//! the previous one's CPU counters as `precpu_stats` (what the CLI computes CPU % from).

use crate::containers::flag;
use crate::error::ApiResult;
use crate::stream::blocking_body;
use crate::{blocking, Eng};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::Duration;

/// Host CPU time in nanoseconds, as docker's `system_cpu_usage`.
fn system_cpu() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .next()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>()
                * 10_000_000
        })
        .unwrap_or(0)
}

/// The container's interfaces from `/proc/PID/net/dev` (its netns), `lo` left out.
fn networks(pid: i32) -> Value {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    let mut out = Map::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let v: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if name == "lo" || v.len() < 12 {
            continue;
        }
        out.insert(
            name.to_string(),
            json!({"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
                   "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11]}),
        );
    }
    Value::Object(out)
}

/// One stats document; `pre` is the previous one's `cpu_stats` (or this one's own).
fn sample(e: &Engine, id: &str, pre: Option<&Value>) -> berth_engine::Result<Value> {
    let r = e.find(id)?;
    let s = e.stats(id)?;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cpu = json!({
        "cpu_usage": {"total_usage": s.cpu.usage.total, "percpu_usage": s.cpu.usage.percpu,
                      "usage_in_kernelmode": s.cpu.usage.kernel, "usage_in_usermode": s.cpu.usage.user},
        "system_cpu_usage": system_cpu(), "online_cpus": cpus,
        "throttling_data": {"periods": s.cpu.throttling.periods, "throttled_periods": s.cpu.throttling.throttled_periods, "throttled_time": s.cpu.throttling.throttled_time},
    });
    let blkio: Vec<Value> = s
        .blkio
        .io_service_bytes_recursive
        .iter()
        .map(|b| json!({"major": b.major, "minor": b.minor, "op": b.op, "value": b.value}))
        .collect();
    Ok(json!({
        "id": r.id, "name": format!("/{}", r.name), "read": berth_engine::now(),
        "preread": "0001-01-01T00:00:00Z",
        "pids_stats": {"current": s.pids.current, "limit": s.pids.limit},
        "precpu_stats": pre.cloned().unwrap_or_else(|| cpu.clone()),
        "cpu_stats": cpu,
        "memory_stats": {"usage": s.memory.usage.usage, "max_usage": s.memory.usage.max, "limit": s.memory.usage.limit, "failcnt": s.memory.usage.failcnt, "stats": s.memory.raw},
        "blkio_stats": {"io_service_bytes_recursive": blkio},
        "networks": networks(r.state.pid),
    }))
}

pub async fn stats(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    q: Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let stream = !matches!(q.get("stream").map(String::as_str), Some("0" | "false"));
    let one_shot = flag(&q, "one-shot");
    let first = {
        let id = id.clone();
        blocking(&eng, move |e| Ok(sample(e, &id, None)?)).await?
    };
    if !stream || one_shot {
        return Ok(Json(first).into_response());
    }
    let body = blocking_body(move |sink| {
        let mut doc = first;
        loop {
            let mut line = serde_json::to_vec(&doc).unwrap_or_default();
            line.push(b'\n');
            if !sink.send(line) {
                return; // the client went away
            }
            std::thread::sleep(Duration::from_secs(1));
            if sink.closed() {
                return;
            }
            match sample(&eng, &id, Some(&doc["cpu_stats"])) {
                Ok(next) => doc = next,
                Err(_) => return, // stopped or removed: the stream ends, as docker's
            }
        }
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
