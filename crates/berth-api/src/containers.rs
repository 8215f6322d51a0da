//! `/containers/...`: create, list, inspect, start/stop/restart/kill/wait/remove,
//! pause/unpause, rename, top, stats, resize, logs.

use crate::error::{ApiError, ApiResult};
use crate::inspect;
use crate::stream::{blocking_body, frame};
use crate::{blocking, Eng};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::model::CreateBody;
use berth_engine::{LogOpts, Status};
use serde_json::{json, Value};
use std::collections::HashMap;

type Q = Query<HashMap<String, String>>;

pub(crate) fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    matches!(q.get(k).map(String::as_str), Some("1" | "true" | "True"))
}

/// docker's `filters` query parameter: `{"status":["running"]}` (or the old map form).
pub(crate) fn filters(q: &HashMap<String, String>) -> ApiResult<HashMap<String, Vec<String>>> {
    let Some(f) = q.get("filters").filter(|f| !f.is_empty()) else {
        return Ok(HashMap::new());
    };
    let v: Value =
        serde_json::from_str(f).map_err(|e| ApiError::bad(format!("invalid filters: {e}")))?;
    let mut out = HashMap::new();
    if let Value::Object(m) = v {
        for (k, v) in m {
            let vals = match v {
                Value::Array(a) => a
                    .into_iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                Value::Object(o) => o.into_iter().map(|(k, _)| k).collect(),
                _ => Vec::new(),
            };
            out.insert(k, vals);
        }
    }
    Ok(out)
}

pub async fn create(State(eng): State<Eng>, q: Q, body: Bytes) -> ApiResult<Response> {
    let body: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("invalid JSON in container create body: {e}")))?;
    let name = q.get("name").cloned();
    let rec = blocking(&eng, move |e| Ok(e.create(body, name.as_deref())?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": rec.id, "Warnings": berth_engine::create_warnings(&rec.host_config)})),
    )
        .into_response())
}

pub async fn list(State(eng): State<Eng>, q: Q) -> ApiResult<Json<Value>> {
    let all = flag(&q, "all");
    let f = filters(&q)?;
    let limit: i64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(-1);
    let recs = blocking(&eng, |e| Ok(e.list())).await?;
    let mut out = Vec::new();
    for r in recs {
        let status = r.state.status.docker();
        if !all
            && !f.contains_key("status")
            && !matches!(
                r.state.status,
                Status::Running | Status::Paused | Status::Restarting | Status::Starting
            )
        {
            continue;
        }
        let ok = f.iter().all(|(k, vals)| {
            vals.iter().any(|v| match k.as_str() {
                "status" => status == v,
                "name" => r.name.contains(v.trim_start_matches('/')),
                "id" => r.id.starts_with(v),
                "ancestor" => &r.image == v || r.image_id.contains(v.as_str()),
                "label" => {
                    let labels = r.config.labels.clone().unwrap_or_default();
                    match v.split_once('=') {
                        Some((lk, lv)) => labels.get(lk).is_some_and(|x| x == lv),
                        None => labels.contains_key(v),
                    }
                }
                "exited" => r.state.status == Status::Exited && r.state.exit_code.to_string() == *v,
                "network" => r.network_mode() == v,
                "health" => {
                    let h = r.state.health.as_ref().map(|h| h.status.as_str());
                    h.unwrap_or("none") == v
                }
                _ => true,
            })
        });
        if ok {
            out.push(inspect::summary(&r));
        }
        if limit > 0 && out.len() as i64 >= limit {
            break;
        }
    }
    if flag(&q, "size") {
        out = blocking(&eng, move |e| {
            for c in out.iter_mut() {
                if let Ok(r) = e.find(c["Id"].as_str().unwrap_or_default()) {
                    add_sizes(e, &r, c);
                }
            }
            Ok(out)
        })
        .await?;
    }
    Ok(Json(Value::Array(out)))
}

/// `SizeRw` (what the container wrote) and `SizeRootFs` (that and its image), as `ps -s`
/// and `inspect -s` show them.
pub(crate) fn add_sizes(
    e: &berth_engine::Engine,
    r: &berth_engine::ContainerRecord,
    v: &mut Value,
) {
    let (rw, root) = e.container_size(r);
    v["SizeRw"] = json!(rw);
    v["SizeRootFs"] = json!(root);
}

pub async fn inspect(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    q: Q,
) -> ApiResult<Json<Value>> {
    let size = flag(&q, "size");
    blocking(&eng, move |e| {
        let r = e.find(&id)?;
        let mut v = inspect::container(e, &r);
        if size {
            add_sizes(e, &r, &mut v);
        }
        Ok(Json(v))
    })
    .await
}

pub async fn start(State(eng): State<Eng>, Path(id): Path<String>) -> ApiResult<Response> {
    match blocking(&eng, move |e| Ok(e.start(&id)?)).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(ApiError::Engine(berth_engine::Error::State(m))) if m.contains("already running") => {
            Ok(StatusCode::NOT_MODIFIED.into_response())
        }
        Err(e) => Err(e),
    }
}

fn timeout(q: &HashMap<String, String>) -> Option<i64> {
    q.get("t")
        .or_else(|| q.get("timeout"))
        .and_then(|t| t.parse().ok())
}

pub async fn stop(State(eng): State<Eng>, Path(id): Path<String>, q: Q) -> ApiResult<StatusCode> {
    let t = timeout(&q);
    let stopped = blocking(&eng, move |e| Ok(e.stop(&id, t)?)).await?;
    Ok(if stopped {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

pub async fn restart(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    q: Q,
) -> ApiResult<StatusCode> {
    let t = timeout(&q);
    blocking(&eng, move |e| Ok(e.restart(&id, t)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn kill(State(eng): State<Eng>, Path(id): Path<String>, q: Q) -> ApiResult<StatusCode> {
    let sig = q.get("signal").cloned().unwrap_or_default();
    blocking(&eng, move |e| Ok(e.kill(&id, &sig)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn pause(State(eng): State<Eng>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    blocking(&eng, move |e| Ok(e.pause(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unpause(State(eng): State<Eng>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    blocking(&eng, move |e| Ok(e.unpause(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rename(State(eng): State<Eng>, Path(id): Path<String>, q: Q) -> ApiResult<StatusCode> {
    let name = q.get("name").cloned().unwrap_or_default();
    blocking(&eng, move |e| Ok(e.rename(&id, &name)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`: the container's
/// changes as a new image; the body, if any, is a config whose fields override the
/// container's.
pub async fn commit(State(eng): State<Eng>, q: Q, body: Bytes) -> ApiResult<Response> {
    let container = q
        .get("container")
        .cloned()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad("container is required"))?;
    let config = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => serde_json::Map::new(),
        Err(_) if body.iter().all(u8::is_ascii_whitespace) => serde_json::Map::new(),
        Err(e) => return Err(ApiError::bad(format!("invalid JSON in commit body: {e}"))),
    };
    let non_empty = |k: &str| q.get(k).cloned().filter(|v| !v.is_empty());
    let req = berth_engine::CommitRequest {
        repo: non_empty("repo"),
        tag: non_empty("tag"),
        comment: q.get("comment").cloned().unwrap_or_default(),
        author: q.get("author").cloned().unwrap_or_default(),
        changes: q
            .get("changes")
            .map(|c| c.lines().map(String::from).collect())
            .unwrap_or_default(),
        pause: q.get("pause").is_none_or(|p| p != "0" && p != "false"),
        config,
    };
    let id = blocking(&eng, move |e| Ok(e.commit(&container, &req)?)).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id}))).into_response())
}

/// `docker diff`: the container's changes to its filesystem.
pub async fn changes(State(eng): State<Eng>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let list = blocking(&eng, move |e| Ok(e.changes(&id)?)).await?;
    Ok(Json(json!(list)))
}

/// `docker update`: new limits and restart policy.
pub async fn update(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: berth_engine::UpdateBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("invalid JSON in container update body: {e}")))?;
    let warnings = blocking(&eng, move |e| Ok(e.update_container(&id, &body)?)).await?;
    Ok(Json(json!({"Warnings": warnings})))
}

pub async fn remove(State(eng): State<Eng>, Path(id): Path<String>, q: Q) -> ApiResult<StatusCode> {
    let (force, volumes) = (flag(&q, "force"), flag(&q, "v"));
    blocking(&eng, move |e| Ok(e.remove(&id, force, volumes)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn prune(State(eng): State<Eng>) -> ApiResult<Json<Value>> {
    blocking(&eng, |e| {
        let mut gone = Vec::new();
        for r in e.list() {
            if matches!(
                r.state.status,
                Status::Exited | Status::Created | Status::Dead
            ) && e.remove(&r.id, false, false).is_ok()
            {
                gone.push(r.id);
            }
        }
        Ok(Json(
            json!({"ContainersDeleted": gone, "SpaceReclaimed": 0}),
        ))
    })
    .await
}

/// `POST /containers/{id}/wait`: the waiter is registered before the headers go out, so a
/// client that starts the container after this returns cannot miss the exit.
pub async fn wait(State(eng): State<Eng>, Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let cond = q
        .get("condition")
        .cloned()
        .unwrap_or_else(|| "not-running".into());
    if !matches!(cond.as_str(), "not-running" | "next-exit" | "removed") {
        return Err(ApiError::bad(format!("invalid condition: \"{cond}\"")));
    }
    let name = id.clone();
    blocking(&eng, move |e| {
        e.find(&name)?;
        Ok(())
    })
    .await?;
    // Subscribed before the headers go out; the waiting happens on one plain thread (not the
    // async runtime's blocking pool, which a thousand detached `docker run`s would exhaust).
    let events = eng.events.subscribe();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let e2 = eng.clone();
    std::thread::Builder::new()
        .name("wait".into())
        .spawn(move || {
            // docker run -d asks too, then goes: the thread ends soon after the client.
            let r = e2.wait_with(events, &id, &cond, || tx.is_closed());
            let _ = tx.send(r);
        })
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let body = Body::from_stream(futures_util::stream::once(async move {
        let v = match rx.await {
            Ok(Ok(code)) => json!({"StatusCode": code, "Error": null}),
            Ok(Err(e)) => json!({"StatusCode": -1, "Error": {"Message": e.to_string()}}),
            Err(_) => json!({"StatusCode": -1, "Error": {"Message": "wait aborted"}}),
        };
        Ok::<_, std::io::Error>(Bytes::from(format!("{v}\n")))
    }));
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap_or_default())
}

pub async fn resize(State(eng): State<Eng>, Path(id): Path<String>, q: Q) -> ApiResult<StatusCode> {
    let h: u16 = q.get("h").and_then(|v| v.parse().ok()).unwrap_or(24);
    let w: u16 = q.get("w").and_then(|v| v.parse().ok()).unwrap_or(80);
    blocking(&eng, move |e| Ok(e.resize(&id, h, w)?)).await?;
    Ok(StatusCode::OK)
}

pub async fn top(State(eng): State<Eng>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    blocking(&eng, move |e| {
        let pids = e.top(&id)?;
        let rows: Vec<Value> = pids
            .iter()
            .map(|p| {
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                let ppid = stat.rsplit(')').next().and_then(|s| s.split_whitespace().nth(1)).unwrap_or("0").to_string();
                let uid = std::fs::read_to_string(format!("/proc/{p}/status"))
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.strip_prefix("Uid:").map(|u| u.split_whitespace().next().unwrap_or("0").to_string()))
                    .unwrap_or_default();
                let cmd = std::fs::read(format!("/proc/{p}/cmdline"))
                    .map(|b| b.split(|c| *c == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                json!([uid, p.to_string(), ppid, "0", "", "?", "00:00:00", cmd])
            })
            .collect();
        Ok(Json(json!({"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], "Processes": rows})))
    })
    .await
}

pub async fn logs(State(eng): State<Eng>, Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let o = LogOpts {
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        follow: flag(&q, "follow"),
        tail: q.get("tail").and_then(|t| t.parse().ok()),
        timestamps: flag(&q, "timestamps"),
        since: q.get("since").and_then(|t| t.parse().ok()).unwrap_or(0.0),
        until: q.get("until").and_then(|t| t.parse().ok()).unwrap_or(0.0),
    };
    let name = id.clone();
    let tty = blocking(&eng, move |e| Ok(e.find(&name)?.config.tty)).await?;
    let e = eng.clone();
    let body = blocking_body(move |sink| {
        let _ = e.logs(&id, &o, &mut |l| {
            if l.stream == 0 {
                return !sink.closed();
            }
            let mut payload = Vec::new();
            if o.timestamps {
                payload.extend_from_slice(l.time.as_bytes());
                payload.push(b' ');
            }
            payload.extend_from_slice(&l.bytes);
            if tty {
                sink.send(payload)
            } else {
                sink.send(frame(l.stream, &payload))
            }
        });
    });
    let ctype = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, ctype)
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty())))
}
