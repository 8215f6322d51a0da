//! berth-api: the Docker Engine API (v1.41 and later) on a unix socket, over berth-engine,
//! so the real docker CLI and SDKs drive berth. Handlers are thin: parse, call the engine on
//! a blocking thread, shape docker's JSON.

#![recursion_limit = "256"]

mod archive;
mod containers;
mod detach;
mod error;
mod exec;
mod hijack;
mod images;
mod inspect;
mod networks;
mod progress;
mod stats;
mod stream;
mod system;
mod volumes;

use axum::extract::Request;
use axum::routing::{delete, get, head, post};
use axum::Router;
use berth_engine::Engine;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

pub use error::{ApiError, ApiResult};

/// The newest API version berth speaks, and the oldest.
pub const API_VERSION: &str = "1.47";
pub const MIN_API_VERSION: &str = "1.24";

pub type Eng = Arc<Engine>;

/// Run `f` on a blocking thread with the engine.
pub(crate) async fn blocking<T: Send + 'static>(
    eng: &Eng,
    f: impl FnOnce(&Eng) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let e = Arc::clone(eng);
    tokio::task::spawn_blocking(move || f(&e)).await?
}

pub fn router(engine: Eng) -> Router {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/events", get(system::events))
        .route("/system/df", get(system::df))
        .route("/containers/create", post(containers::create))
        .route("/containers/json", get(containers::list))
        .route("/containers/prune", post(containers::prune))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}", delete(containers::remove))
        .route("/containers/{id}/pause", post(containers::pause))
        .route("/containers/{id}/unpause", post(containers::unpause))
        .route("/containers/{id}/rename", post(containers::rename))
        .route("/containers/{id}/update", post(containers::update))
        .route("/containers/{id}/top", get(containers::top))
        .route("/containers/{id}/stats", get(stats::stats))
        .route("/containers/{id}/resize", post(containers::resize))
        .route("/containers/{id}/logs", get(containers::logs))
        .route(
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .route("/containers/{id}/export", get(archive::export))
        .route("/containers/{id}/changes", get(containers::changes))
        .route("/commit", post(containers::commit))
        .route("/containers/{id}/attach", post(hijack::attach))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(hijack::exec_start))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/images/json", get(images::list))
        .route("/images/create", post(images::create))
        .route("/images/load", post(images::load))
        .route("/images/get", get(images::save))
        .route("/images/prune", post(images::prune))
        .route("/build/prune", post(images::build_prune))
        .route(
            "/images/{*rest}",
            get(images::by_name)
                .delete(images::remove)
                .post(images::by_name_post),
        )
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route(
            "/volumes/{name}",
            get(volumes::inspect).delete(volumes::remove),
        )
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/auth", post(system::auth))
        .route("/distribution/{*rest}", head(system::not_implemented))
        .with_state(engine)
}

/// `/v1.43/containers/json` → `/containers/json`.
fn strip_version(mut req: Request) -> Request {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some(i) = rest.find('/') {
            if rest[..i].chars().all(|c| c.is_ascii_digit() || c == '.') {
                let new = match req.uri().query() {
                    Some(q) => format!("{}?{q}", &rest[i..]),
                    None => rest[i..].to_string(),
                };
                if let Ok(uri) = new.parse() {
                    *req.uri_mut() = uri;
                }
            }
        }
    }
    req
}

/// Serve the API on a unix socket (mode 0660) until the task is dropped.
pub async fn serve(engine: Eng, socket: &Path) -> std::io::Result<()> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(socket);
    let listener = tokio::net::UnixListener::bind(socket)?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))?;
    let app = tower::util::MapRequestLayer::new(strip_version);
    let svc = tower::Layer::layer(&app, router(engine));
    axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service_with_connect_info::<ConnFd>(svc),
    )
    .await
}

/// The socket a request came in on, for hijacked streams (see `hijack::head_read`). Only the
/// number: the connection owns the fd, which stays open while its request or upgrade lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnFd(pub std::os::fd::RawFd);

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, tokio::net::UnixListener>,
    > for ConnFd
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::UnixListener>) -> Self {
        use std::os::fd::AsRawFd;
        ConnFd(s.io().as_raw_fd())
    }
}
