//! `/containers/{id}/archive`: `docker cp` both ways. HEAD stats a path, GET streams it as a
//! tar, PUT extracts a tar into a directory; the stat travels base64-encoded in
//! `X-Docker-Container-Path-Stat`.

use crate::containers::flag;
use crate::error::{ApiError, ApiResult};
use crate::stream::blocking_body;
use crate::{blocking, Eng};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use berth_engine::{ExtractOpts, PathStat};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::io::Read;
use tokio::sync::mpsc;

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
        if res.is_err() {
            // Read the rest, so the client gets the answer instead of a broken pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        }
        Ok(res?)
    })
    .await?;
    Ok(StatusCode::OK)
}

/// The request body as a blocking reader, fed by a task that waits (without blocking the
/// runtime) while the reader is behind.
fn body_reader(body: Body) -> BodyReader {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut s = body.into_data_stream();
        while let Some(chunk) = s.next().await {
            if tx.send(chunk.map_err(std::io::Error::other)).await.is_err() {
                return;
            }
        }
    });
    BodyReader {
        rx,
        cur: Bytes::new(),
    }
}

struct BodyReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}
