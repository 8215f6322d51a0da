//! `/containers/{id}/exec`, `/exec/{id}/json`, `/exec/{id}/resize` (start is in hijack).

use crate::error::{ApiError, ApiResult};
use crate::{blocking, Eng};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::ExecConfig;
use serde_json::{json, Value};
use std::collections::HashMap;

pub async fn create(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let cfg: ExecConfig = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("invalid exec config: {e}")))?;
    let exec_id = blocking(&eng, move |e| Ok(e.exec_create(&id, cfg)?)).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": exec_id}))).into_response())
}

pub async fn inspect(State(eng): State<Eng>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    blocking(&eng, move |e| {
        let x = e.exec_get(&id)?;
        let c = &x.config;
        let cmd = c.cmd.clone().unwrap_or_default();
        Ok(Json(json!({
            "ID": x.id, "ContainerID": x.container_id, "Running": x.running,
            "ExitCode": x.exit_code, "Pid": x.pid,
            "OpenStdin": c.attach_stdin, "OpenStdout": c.attach_stdout, "OpenStderr": c.attach_stderr,
            "CanRemove": false, "DetachKeys": c.detach_keys,
            "ProcessConfig": {"tty": c.tty, "entrypoint": cmd.first(), "arguments": cmd.get(1..).unwrap_or_default(),
                              "privileged": c.privileged, "user": c.user},
        })))
    })
    .await
}

pub async fn resize(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<StatusCode> {
    let h: u16 = q.get("h").and_then(|v| v.parse().ok()).unwrap_or(24);
    let w: u16 = q.get("w").and_then(|v| v.parse().ok()).unwrap_or(80);
    blocking(&eng, move |e| Ok(e.exec_resize(&id, h, w)?)).await?;
    Ok(StatusCode::CREATED)
}
