//! `/_ping`, `/version`, `/info`, `/events`, `/system/df`.

use crate::error::{ApiError, ApiResult};
use crate::stream::blocking_body;
use crate::{blocking, Eng, API_VERSION, MIN_API_VERSION};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::{EventFilter, Status};
use berth_image::registry::{BasicAuth, Options, Registry};
use berth_image::Error as ImageError;
use serde_json::{json, Value};
use std::collections::HashMap;

pub async fn ping() -> Response {
    Response::builder()
        .header("API-Version", API_VERSION)
        .header("Docker-Experimental", "false")
        .header("Ostype", "linux")
        .header("Builder-Version", "1")
        .header(header::CACHE_CONTROL, "no-cache, no-store, must-revalidate")
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body("OK".into())
        .unwrap_or_default()
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

pub async fn version() -> Json<Value> {
    let v = env!("CARGO_PKG_VERSION");
    Json(json!({
        "Platform": {"Name": "berth"},
        "Components": [{"Name": "Engine", "Version": v, "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux", "Arch": arch(), "KernelVersion": kernel()}}],
        "Version": v, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": "rust", "Os": "linux", "Arch": arch(), "KernelVersion": kernel(),
        "BuildTime": "",
    }))
}

pub async fn info(State(eng): State<Eng>) -> ApiResult<Json<Value>> {
    blocking(&eng, |e| {
        let list = e.list();
        let count = |f: &dyn Fn(Status) -> bool| list.iter().filter(|c| f(c.state.status)).count();
        let images = e.images.list()?.len();
        let mem = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:").and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse::<u64>().ok()))
            .unwrap_or(0)
            * 1024;
        let cgv = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() { "2" } else { "1" };
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        Ok(Json(json!({
            "ID": "berth", "Containers": list.len(),
            "ContainersRunning": count(&|s| s == Status::Running),
            "ContainersPaused": count(&|s| s == Status::Paused),
            "ContainersStopped": count(&|s| !s.is_live()),
            "Images": images, "Driver": "overlay2", "DriverStatus": [],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"], "Log": ["json-file"]},
            "MemoryLimit": true, "SwapLimit": false, "CpuCfsPeriod": true, "CpuCfsQuota": true,
            "CPUShares": true, "CPUSet": true, "PidsLimit": true, "IPv4Forwarding": true,
            "Debug": false, "NFd": 0, "NGoroutines": 0, "SystemTime": berth_engine::now(),
            "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": cgv,
            "NEventsListener": 0, "KernelVersion": kernel(), "OperatingSystem": "berth", "OSVersion": "",
            "OSType": "linux", "Architecture": std::env::consts::ARCH,
            "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "MemTotal": mem, "DockerRootDir": e.cfg.data_root, "Name": host.trim(),
            "Labels": [], "ExperimentalBuild": false, "ServerVersion": env!("CARGO_PKG_VERSION"),
            "Runtimes": {"berth": {"path": "berth"}}, "DefaultRuntime": "berth",
            "Swarm": {"LocalNodeState": "inactive", "ControlAvailable": false, "NodeID": "", "NodeAddr": ""},
            "LiveRestoreEnabled": true, "Isolation": "", "InitBinary": "",
            "SecurityOptions": ["name=seccomp,profile=builtin"], "Warnings": null,
        })))
    })
    .await
}

/// `/events`: events as JSON lines, filtered like dockerd's. With `since`, the kept past
/// events from then come first; with an `until` already past, only those, and the stream
/// ends; with a later one, it ends then.
pub async fn events(
    State(eng): State<Eng>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let filter = EventFilter::new(crate::containers::filters(&q)?);
    let time = |k: &str| -> ApiResult<Option<i64>> {
        match q.get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => event_time(v).map(Some).ok_or_else(|| {
                ApiError::bad(format!("invalid value for {k}: {v:?}: want unix seconds"))
            }),
        }
    };
    let (since, until) = (time("since")?, time("until")?);
    if let (Some(s), Some(u)) = (since, until) {
        if u < s {
            return Err(ApiError::bad(format!(
                "`since` time ({}) cannot be after `until` time ({})",
                q["since"], q["until"]
            )));
        }
    }
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)
    };
    let (past, rx) = eng.events.subscribe_since(since);
    let only_past = until.is_some_and(|u| u <= now());
    let body = blocking_body(move |sink| {
        let send = |ev: &berth_engine::Event| {
            if !filter.matches(ev) || until.is_some_and(|u| ev.time_nano > u) {
                return true;
            }
            sink.send(format!(
                "{}\n",
                serde_json::to_string(ev).unwrap_or_default()
            ))
        };
        for ev in &past {
            if !send(ev) {
                return;
            }
        }
        if only_past {
            return;
        }
        loop {
            let left = until.map(|u| u - now());
            if left.is_some_and(|l| l <= 0) {
                return;
            }
            let wait = left.map_or(500_000_000, |l| l.min(500_000_000));
            match rx.recv_timeout(std::time::Duration::from_nanos(wait as u64)) {
                Ok(ev) => {
                    if !send(&ev) {
                        return;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if sink.closed() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap_or_default())
}

/// docker's event times, `SECONDS[.NANOSECONDS]` since the epoch (the CLI turns durations and
/// dates into that), as nanoseconds.
fn event_time(v: &str) -> Option<i64> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

pub async fn df(State(eng): State<Eng>) -> ApiResult<Json<Value>> {
    blocking(&eng, |e| {
        let containers: Vec<Value> = e
            .list()
            .iter()
            .map(|r| {
                let mut v = crate::inspect::summary(r);
                crate::containers::add_sizes(e, r, &mut v);
                v
            })
            .collect();
        let images: Vec<Value> = e.images.list()?.iter().map(crate::images::summary).collect();
        let volumes: Vec<Value> = e
            .volume_list()?
            .into_iter()
            .map(|v| {
                let size = berth_engine::du(std::path::Path::new(&v.mountpoint));
                let mut j = serde_json::to_value(&v).unwrap_or_default();
                j["UsageData"] = json!({"Size": size, "RefCount": 0});
                j
            })
            .collect();
        Ok(Json(json!({"LayersSize": 0, "Images": images, "Containers": containers, "Volumes": volumes, "BuildCache": []})))
    })
    .await
}

/// The registry domain a login's `serveraddress` names: Docker Hub's index address (or
/// nothing) is `docker.io`; otherwise the host[:port], scheme and path dropped.
fn login_domain(server: &str) -> String {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or("");
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        h => h.to_string(),
    }
}

/// POST `/auth`: checks a user name and password against the registry (`GET /v2/`,
/// answering its basic or bearer challenge), as dockerd does; the client keeps them.
/// Rejected credentials are a 401 with dockerd's text.
pub async fn auth(State(eng): State<Eng>, Json(body): Json<Value>) -> ApiResult<Json<Value>> {
    let username = body["username"].as_str().unwrap_or("").to_string();
    let password = body["password"].as_str().unwrap_or("").to_string();
    if username.is_empty() || password.is_empty() {
        return Err(ApiError::bad("Username and password are required"));
    }
    let domain = login_domain(body["serveraddress"].as_str().unwrap_or(""));
    blocking(&eng, move |e| {
        let opts = Options {
            insecure: e.cfg.insecure_registries.clone(),
            auth: Some(BasicAuth { username, password }),
            ..Options::default()
        };
        let reg = Registry::new(&domain, &opts)?;
        match reg.ping() {
            Ok(()) => Ok(Json(
                json!({"Status": "Login Succeeded", "IdentityToken": ""}),
            )),
            Err(ImageError::AuthenticationRequired { .. }) => Err(ApiError::Status(
                StatusCode::UNAUTHORIZED,
                format!(
                    "login attempt to {}/v2/ failed with status: 401 Unauthorized",
                    reg.base_url()
                ),
            )),
            Err(err) => Err(ApiError::internal(format!(
                "login to {domain} failed: {err}"
            ))),
        }
    })
    .await
}

pub async fn not_implemented() -> Response {
    StatusCode::NOT_IMPLEMENTED.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_read_like_dockerd() {
        assert_eq!(event_time("12"), Some(12_000_000_000));
        assert_eq!(event_time("12.5"), Some(12_500_000_000));
        assert_eq!(
            event_time("1700000000.000000001"),
            Some(1_700_000_000_000_000_001)
        );
        for bad in ["", "x", "1.x", "1.0000000001", "1h"] {
            assert_eq!(event_time(bad), None, "{bad}");
        }
    }
}
