//! `/containers/{id}/archive`: `docker cp` both ways. HEAD stats a path, GET streams it as a
//! tar, PUT extracts a tar into a directory; the stat travels base64-encoded in
//! `X-Docker-Container-Path-Stat`.

use crate::containers::flag;
use crate::error::{ApiError, ApiResult};
use crate::stream::{blocking_body, body_reader};
use crate::{blocking, Eng};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use berth_engine::{ExtractOpts, PathStat};
use std::collections::HashMap;

type Q = Query<HashMap<String, String>>;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn path_param(q: &HashMap<String, String>) -> ApiResult<String> {
    match q.get("path") {
        Some(p) if !p.is_empty() => Ok(p.clone()),
        _ => Err(ApiError::bad("Path cannot be empty")),
    }
}

/// docker's `ContainerPathStat` JSON, base64 (standard, padded).
fn stat_header(s: &PathStat) -> String {
    let v = serde_json::json!({
        "name": s.name,
        "size": s.size,
        "mode": s.mode,
        "mtime": s.mtime,
        "linkTarget": s.link_target,
    });
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

/// `HEAD /containers/{id}/archive?path=`.
pub async fn head(State(eng): State<Eng>, Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let path = path_param(&q)?;
    let st = blocking(&eng, move |e| Ok(e.archive_stat(&id, &path)?)).await?;
    Response::builder()
        .header(STAT_HEADER, stat_header(&st))
        .body(Body::empty())
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `GET /containers/{id}/archive?path=`: the stat header, then the tar.
pub async fn get(State(eng): State<Eng>, Path(id): Path<String>, q: Q) -> ApiResult<Response> {
    let path = path_param(&q)?;
    let src = blocking(&eng, move |e| Ok(e.archive_open(&id, &path)?)).await?;
    let stat = stat_header(src.stat());
    // An error midway cuts the stream short; the client sees a truncated archive.
    let body = blocking_body(move |sink| {
        let _ = src.write_tar(sink);
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-tar")
        .header(STAT_HEADER, stat)
        .body(body)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `GET /containers/{id}/export`: the container's filesystem as a tar.
pub async fn export(State(eng): State<Eng>, Path(id): Path<String>) -> ApiResult<Response> {
    let src = blocking(&eng, move |e| Ok(e.export_open(&id)?)).await?;
    let body = blocking_body(move |sink| {
        let _ = src.write_tar(sink);
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-tar")
        .body(body)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `PUT /containers/{id}/archive?path=DIR`: extract the tar in the body into DIR.
pub async fn put(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    q: Q,
    body: Body,
) -> ApiResult<StatusCode> {
    let path = path_param(&q)?;
    let opts = ExtractOpts {
        no_overwrite_dir_non_dir: flag(&q, "noOverwriteDirNonDir"),
        copy_uid_gid: flag(&q, "copyUIDGID"),
    };
    let mut reader = body_reader(body);
    blocking(&eng, move |e| {
        let res = e.archive_extract(&id, &path, opts, &mut reader);
        reader.drain();
        Ok(res?)
    })
    .await?;
    Ok(StatusCode::OK)
}
