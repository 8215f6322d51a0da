//! Hijacked connections: `POST /containers/{id}/attach` and `POST /exec/{id}/start` answer
//! `101 UPGRADED` and then carry the process's stdio both ways, spliced to its shim.

use crate::error::{ApiError, ApiResult};
use crate::{blocking, Eng};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    matches!(q.get(k).map(String::as_str), Some("1" | "true" | "True"))
}

/// The 101 response, and once the client has the raw connection, the splice.
/// The shim stream may come later: a created container's attach is served once it starts,
/// and docker's CLI starts it only after this 101 arrives.
type ShimRx = std::sync::mpsc::Receiver<berth_engine::Result<std::os::unix::net::UnixStream>>;

/// Run before the client's side is closed (an exec's exit code must be known by then).
type BeforeClose = Option<Box<dyn FnOnce() + Send>>;

/// `detach`: the detach keys watched for on stdin (None: stdin is not attached).
fn upgrade(
    mut req: Request,
    tty: bool,
    shim: ShimRx,
    before_close: BeforeClose,
    detach: Option<Vec<u8>>,
) -> Response {
    let on_upgrade = hyper::upgrade::on(&mut req);
    let conn = req
        .extensions()
        .get::<ConnectInfo<crate::ConnFd>>()
        .map(|c| c.0 .0);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        if let Some(fd) = conn {
            head_read(fd).await;
        }
        let Ok(Ok(Ok(shim))) = tokio::task::spawn_blocking(move || shim.recv()).await else {
            return;
        };
        if shim.set_nonblocking(true).is_err() {
            return;
        }
        let Ok(shim) = tokio::net::UnixStream::from_std(shim) else {
            return;
        };
        let (mut sr, mut sw) = tokio::io::split(shim);
        let (mut cr, mut cw) = tokio::io::split(TokioIo::new(upgraded));
        let (detached_tx, detached_rx) = tokio::sync::oneshot::channel::<()>();
        let to_shim = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut esc = detach.map(crate::detach::Escape::new);
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match cr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let fed = esc.as_mut().map(|e| e.feed(&buf[..n]));
                let pass = fed.as_ref().map_or(&buf[..n], |f| f.pass.as_slice());
                if !pass.is_empty() && sw.write_all(pass).await.is_err() {
                    break;
                }
                if fed.is_some_and(|f| f.detach) {
                    // The container keeps its stdin: no EOF is passed on.
                    let _ = detached_tx.send(());
                    return;
                }
            }
            let _ = sw.shutdown().await;
        });
        // The output side decides when we are done (or the detach keys); stdin may stay
        // open forever.
        // (The stdin side ending without a detach drops the sender: that is no detach.)
        let detach = async {
            if detached_rx.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let detached = tokio::select! {
            _ = tokio::io::copy(&mut sr, &mut cw) => false,
            () = detach => true,
        };
        if let (Some(f), false) = (before_close, detached) {
            let _ = tokio::task::spawn_blocking(f).await;
        }
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut cw).await;
        to_shim.abort();
    });
    let ctype = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let upgrading = req.headers().contains_key(header::UPGRADE);
    let mut b = Response::builder().header(header::CONTENT_TYPE, ctype);
    b = if upgrading {
        b.status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "tcp")
    } else {
        b.status(StatusCode::OK)
    };
    b.body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The longest the output waits for the client to read the 101 head.
const HEAD_READ_MAX: Duration = Duration::from_millis(200);

/// Wait until the client has read everything sent so far (the 101 head), as seen in the
/// socket's send queue. docker-py takes the raw socket from under its buffered HTTP reader,
/// so output that arrives together with the head is lost (docker/docker-py#3332: `exec_run`
/// returns b""); dockerd rarely shows it because it starts the process only after the head,
/// while berth's exec output is already waiting in the shim.
async fn head_read(fd: std::os::fd::RawFd) {
    let end = Instant::now() + HEAD_READ_MAX;
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int; `fd` is the connection's socket, open
        // while the caller holds the upgraded connection.
        let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) };
        if r != 0 || queued == 0 || Instant::now() >= end {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub async fn attach(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> ApiResult<Response> {
    let (stdin, stdout, stderr) = (flag(&q, "stdin"), flag(&q, "stdout"), flag(&q, "stderr"));
    let keys = detach_keys(q.get("detachKeys"), stdin)?;
    let name = id.clone();
    let (tty, rx) = blocking(&eng, move |e| {
        let rec = e.find(&name)?;
        Ok((
            rec.config.tty,
            e.attach_when_started(&name, stdin, stdout, stderr)?,
        ))
    })
    .await?;
    Ok(upgrade(req, tty, rx, None, keys))
}

/// The detach keys for an attach with stdin: the client's, or docker's default.
fn detach_keys(given: Option<&String>, stdin: bool) -> ApiResult<Option<Vec<u8>>> {
    if !stdin {
        return Ok(None);
    }
    let spec = given
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(crate::detach::DEFAULT);
    crate::detach::parse(spec).map(Some).map_err(ApiError::bad)
}

/// A stream that carries only `msg` (on stdout, framed unless a tty) and then ends.
fn message_stream(msg: &str, tty: bool) -> ApiResult<std::os::unix::net::UnixStream> {
    use std::io::Write;
    let (ours, mut theirs) =
        std::os::unix::net::UnixStream::pair().map_err(|e| ApiError::internal(e.to_string()))?;
    let text = format!("{msg}\r\n");
    let mut out = Vec::new();
    if !tty {
        out.extend_from_slice(&[1, 0, 0, 0]);
        out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    }
    out.extend_from_slice(text.as_bytes());
    theirs
        .write_all(&out)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(ours)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecStart {
    detach: bool,
    tty: bool,
}

pub async fn exec_start(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| ApiError::bad(e.to_string()))?;
    let opts: ExecStart = if bytes.is_empty() {
        ExecStart::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::bad(e.to_string()))?
    };
    let req = Request::from_parts(parts, Body::empty());
    let detach = opts.detach;
    let exec_id = id.clone();
    let (tty, shim, keys) = blocking(&eng, move |e| {
        let ex = e.exec_get(&id)?;
        let c = &ex.config;
        let keys = detach_keys(Some(&c.detach_keys), c.attach_stdin)?;
        let dir = match e.exec_start(&id) {
            Ok(d) => d,
            // docker writes why the process could not start into the stream; the client
            // then reads the exit code from the exec.
            Err(berth_engine::Error::ExecFailed(msg)) if !detach => {
                return Ok((c.tty || opts.tty, Some(message_stream(&msg, c.tty)?), None));
            }
            Err(err) => return Err(err.into()),
        };
        let shim = if detach {
            None
        } else {
            match e.attach_dir(
                &dir,
                c.attach_stdin,
                c.attach_stdout,
                c.attach_stderr,
                false,
            ) {
                Ok(s) => Some(s),
                // A process with no output may be gone before we attach: its shim has left
                // exit.json and nothing to read, so the client gets an empty stream.
                Err(_)
                    if e.exec_wait(&id, std::time::Duration::from_secs(2))
                        .is_some() =>
                {
                    let (ours, _theirs) = std::os::unix::net::UnixStream::pair()
                        .map_err(|err| ApiError::internal(err.to_string()))?;
                    Some(ours)
                }
                Err(err) => return Err(err.into()),
            }
        };
        Ok((c.tty || opts.tty, shim, keys))
    })
    .await?;
    match shim {
        None => Ok(StatusCode::OK.into_response()),
        Some(s) => {
            let (tx, rx) = std::sync::mpsc::channel();
            let _ = tx.send(Ok(s));
            // A client reads the exit code as soon as the stream ends (docker exec,
            // exec_run): record it first.
            let (eng, id) = (eng.clone(), exec_id);
            let wait: BeforeClose = Some(Box::new(move || {
                let _ = eng.exec_wait(&id, std::time::Duration::from_secs(5));
            }));
            Ok(upgrade(req, tty, rx, wait, keys))
        }
    }
}
