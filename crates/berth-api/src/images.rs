//! `/images/...`: list, inspect, history, tag, remove, pull and import (`/images/create`),
//! push, load and save, with docker's JSON progress lines.

use crate::containers::{filters, flag};
use crate::error::{ApiError, ApiResult};
use crate::inspect::unix_secs;
use crate::progress::{line, options, JsonProgress, Transfer};
use crate::stream::{blocking_body, body_reader};
use crate::{blocking, Eng};
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::Image;
use berth_image::registry::BasicAuth;
use berth_image::{Platform, Reference};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Q = Query<HashMap<String, String>>;

pub fn summary(i: &Image) -> Value {
    json!({
        "Id": i.id.to_string(), "ParentId": "", "RepoTags": i.repo_tags, "RepoDigests": i.repo_digests,
        "Created": unix_secs(i.created()), "Size": i.size, "SharedSize": -1, "VirtualSize": i.size,
        "Labels": i.container_config().labels.unwrap_or_default(), "Containers": -1,
    })
}

fn inspect_json(i: &Image) -> Value {
    let c = &i.config;
    json!({
        "Id": i.id.to_string(), "RepoTags": i.repo_tags, "RepoDigests": i.repo_digests, "Parent": "", "Comment": "",
        "Created": i.created(), "DockerVersion": "", "Author": c["author"].as_str().unwrap_or(""),
        "Config": c["config"], "Architecture": c["architecture"], "Os": c["os"],
        "Size": i.size, "VirtualSize": i.size,
        "GraphDriver": {"Name": "overlay2", "Data": null},
        "RootFS": {"Type": "layers", "Layers": c["rootfs"]["diff_ids"]},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    })
}

fn history_json(i: &Image) -> Value {
    let mut out: Vec<Value> = i.config["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|h| {
            json!({"Id": "<missing>", "Created": unix_secs(h["created"].as_str().unwrap_or("")),
                   "CreatedBy": h["created_by"].as_str().unwrap_or(""), "Tags": null, "Size": 0,
                   "Comment": h["comment"].as_str().unwrap_or("")})
        })
        .collect();
    out.reverse();
    if let Some(first) = out.first_mut() {
        first["Id"] = json!(i.id.to_string());
        first["Tags"] = json!(i.repo_tags);
        first["Size"] = json!(i.size);
    }
    Value::Array(out)
}

pub async fn list(State(eng): State<Eng>, q: Q) -> ApiResult<Json<Value>> {
    let f = filters(&q)?;
    blocking(&eng, move |e| {
        let imgs = e.images.list()?;
        let out = imgs
            .iter()
            .filter(|i| {
                f.get("reference").is_none_or(|refs| {
                    refs.iter().any(|r| {
                        i.repo_tags
                            .iter()
                            .any(|t| t == r || t.split(':').next() == Some(r.as_str()))
                    })
                })
            })
            .map(summary)
            .collect();
        Ok(Json(Value::Array(out)))
    })
    .await
}

/// GET `/images/{name}/json` and `/images/{name}/history` (names contain slashes).
pub async fn by_name(State(eng): State<Eng>, Path(rest): Path<String>) -> ApiResult<Json<Value>> {
    let (name, what) = rest
        .rsplit_once('/')
        .ok_or_else(|| ApiError::bad("unknown image endpoint"))?;
    let (name, what) = (name.to_string(), what.to_string());
    blocking(&eng, move |e| {
        let i = e.images.resolve(&name)?;
        match what.as_str() {
            "json" => Ok(Json(inspect_json(&i))),
            "history" => Ok(Json(history_json(&i))),
            _ => Err(ApiError::Status(
                StatusCode::NOT_FOUND,
                format!("page not found: {what}"),
            )),
        }
    })
    .await
}

fn auth_from(headers: &HeaderMap) -> Option<BasicAuth> {
    use base64::Engine as _;
    let raw = headers.get("X-Registry-Auth")?.to_str().ok()?;
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(raw.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw.trim()))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let username = v["username"]
        .as_str()
        .filter(|u| !u.is_empty())?
        .to_string();
    Some(BasicAuth {
        username,
        password: v["password"].as_str().unwrap_or("").to_string(),
    })
}

/// POST `/images/{name}/tag` and `/images/{name}/push`.
pub async fn by_name_post(
    State(eng): State<Eng>,
    Path(rest): Path<String>,
    q: Q,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (name, what) = rest
        .rsplit_once('/')
        .ok_or_else(|| ApiError::bad("unknown image endpoint"))?;
    let name = name.to_string();
    match what {
        "tag" => {
            let repo = q.get("repo").cloned().unwrap_or_default();
            let tag = q
                .get("tag")
                .cloned()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "latest".into());
            let n = name.clone();
            blocking(&eng, move |e| {
                Ok(e.images.tag(&n, &format!("{repo}:{tag}"))?)
            })
            .await?;
            eng.events.publish("image", "tag", &name, &[]);
            Ok(StatusCode::CREATED.into_response())
        }
        "push" => {
            let tag = q.get("tag").cloned().filter(|t| !t.is_empty());
            let full = match tag {
                Some(t) => format!("{name}:{t}"),
                None => name.clone(),
            };
            let r = Reference::parse(&full).map_err(|e| ApiError::bad(e.to_string()))?;
            let auth = auth_from(&headers);
            let e = eng.clone();
            let body = blocking_body(move |sink| {
                let sink = Arc::new(Mutex::new(sink));
                line(
                    &sink,
                    json!({"status": format!("The push refers to repository [{}]", r.repository())}),
                );
                let opts = options(&e, auth, &sink, Transfer::Push);
                match berth_image::registry::push(&r, &e.images.store, &opts) {
                    Ok(p) => {
                        let d = &p.manifest_digest;
                        if let Err(err) = e.images.record_digest(&r, d, d) {
                            eprintln!("berth: recording {r}@{d}: {err}");
                        }
                        let size = e.images.store.size(d).unwrap_or(0);
                        line(
                            &sink,
                            json!({"status": format!("{}: digest: {d} size: {size}", r.tag().unwrap_or("latest"))}),
                        )
                    }
                    Err(err) => line(
                        &sink,
                        json!({"errorDetail": {"message": err.to_string()}, "error": err.to_string()}),
                    ),
                }
            });
            Ok(json_stream(body))
        }
        _ => Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("page not found: {what}"),
        )),
    }
}

fn json_stream(body: Body) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap_or_default()
}

/// POST `/images/create`: `fromImage` pulls, `fromSrc=-` imports the request body.
pub async fn create(State(eng): State<Eng>, q: Q, req: Request) -> ApiResult<Response> {
    let headers = req.headers().clone();
    if let Some(src) = q.get("fromSrc") {
        if src != "-" {
            return Err(ApiError::bad(
                "only fromSrc=- (the request body) is supported",
            ));
        }
        let repo = q.get("repo").cloned().filter(|r| !r.is_empty());
        let tag = q
            .get("tag")
            .cloned()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "latest".into());
        let changes: Vec<String> = q
            .get("changes")
            .map(|c| c.lines().map(String::from).collect())
            .unwrap_or_default();
        let mut reader = body_reader(req.into_body());
        let e = eng.clone();
        let loaded = tokio::task::spawn_blocking(move || -> ApiResult<String> {
            let r = repo
                .map(|r| Reference::parse(&format!("{r}:{tag}")))
                .transpose()
                .map_err(|e| ApiError::bad(e.to_string()))?;
            let l =
                berth_image::archive::import(&mut reader, &e.images.store, r.as_ref(), &changes);
            reader.drain();
            Ok(l?.config_digest.to_string())
        })
        .await??;
        return Ok(json_stream(Body::from(format!(
            "{}\r\n",
            json!({"status": loaded})
        ))));
    }
    let image = q
        .get("fromImage")
        .cloned()
        .ok_or_else(|| ApiError::bad("fromImage or fromSrc is required"))?;
    let tag = q.get("tag").cloned().filter(|t| !t.is_empty());
    let full = match tag {
        Some(t) if t.starts_with("sha256:") => format!("{image}@{t}"),
        Some(t) => format!("{image}:{t}"),
        None => image.clone(),
    };
    let r = Reference::parse(&full)
        .map_err(|e| ApiError::bad(format!("invalid reference format: {e}")))?;
    let platform = match q.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let auth = auth_from(&headers);
    let e = eng.clone();
    let body = blocking_body(move |sink| {
        let sink = Arc::new(Mutex::new(sink));
        let id = match (r.digest(), r.tag()) {
            (Some(d), _) => d.to_string(),
            (None, t) => t.unwrap_or("latest").to_string(),
        };
        line(
            &sink,
            json!({"status": format!("Pulling from {}", r.path()), "id": id}),
        );
        let opts = options(&e, auth, &sink, Transfer::Pull);
        match berth_image::registry::pull(&r, &e.images.store, &platform, &opts) {
            Ok(p) => {
                if r.digest().is_none() {
                    let d = p.index_digest.as_ref().unwrap_or(&p.manifest_digest);
                    if let Err(err) = e.images.record_digest(&r, d, &p.manifest_digest) {
                        eprintln!("berth: recording {r}@{d}: {err}");
                    }
                }
                line(
                    &sink,
                    json!({"status": format!("Digest: {}", p.manifest_digest)}),
                );
                line(
                    &sink,
                    json!({"status": format!("Status: Downloaded newer image for {}", r.familiar())}),
                );
                e.events.publish("image", "pull", &r.familiar(), &[]);
                if let Ok(img) = e.images.by_manifest(&p.manifest_digest) {
                    e.images.unpack_in_background(&img);
                }
            }
            Err(err) => line(
                &sink,
                json!({"errorDetail": {"message": err.to_string()}, "error": err.to_string()}),
            ),
        }
    });
    Ok(json_stream(body))
}

/// POST `/images/load`: a docker-archive or OCI layout tar in the body.
pub async fn load(State(eng): State<Eng>, q: Q, req: Request) -> ApiResult<Response> {
    let quiet = flag(&q, "quiet");
    let mut reader = body_reader(req.into_body());
    let e = eng.clone();
    // Streamed as it goes: `Loading layer` bars (unless quiet), then the loaded names, or
    // the error as docker's daemon sends it, in the stream.
    let body = blocking_body(move |sink| {
        let sink = Arc::new(Mutex::new(sink));
        let progress = JsonProgress::new(sink.clone(), Transfer::Load, None);
        let imgs = if quiet {
            berth_image::archive::load(&mut reader, &e.images.store)
        } else {
            berth_image::archive::load_with_progress(&mut reader, &e.images.store, &progress)
        };
        reader.drain();
        match imgs {
            Ok(imgs) => {
                for i in &imgs {
                    let l = match &i.reference {
                        Some(r) => format!("Loaded image: {}", r.familiar()),
                        None => format!("Loaded image ID: {}", i.config_digest),
                    };
                    line(&sink, json!({"stream": format!("{l}\n")}));
                    let name = i
                        .reference
                        .as_ref()
                        .map_or_else(|| i.config_digest.to_string(), |r| r.to_string());
                    if let Ok(img) = e.images.resolve(&name) {
                        e.images.unpack_in_background(&img);
                    }
                }
            }
            Err(err) => line(
                &sink,
                json!({"errorDetail": {"message": err.to_string()}, "error": err.to_string()}),
            ),
        }
    });
    Ok(json_stream(body))
}

/// GET `/images/get?names=a&names=b`: a docker-archive tar.
pub async fn save(State(eng): State<Eng>, req: Request) -> ApiResult<Response> {
    let names: Vec<String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("names="))
        .map(percent_decode)
        .collect();
    if names.is_empty() {
        return Err(ApiError::bad("no image names given"));
    }
    let refs = blocking(&eng, move |e| {
        names
            .iter()
            .map(|n| {
                e.images.resolve(n)?;
                Reference::parse(n).map_err(|e| ApiError::bad(e.to_string()))
            })
            .collect::<ApiResult<Vec<_>>>()
    })
    .await?;
    let e = eng.clone();
    let body = blocking_body(move |sink| {
        let _ = berth_image::archive::save(
            &e.images.store,
            &refs,
            berth_image::ArchiveFormat::Docker,
            sink,
        );
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/x-tar")
        .body(body)
        .unwrap_or_default())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub async fn remove(
    State(eng): State<Eng>,
    Path(rest): Path<String>,
    q: Q,
) -> ApiResult<Json<Value>> {
    let force = flag(&q, "force");
    blocking(&eng, move |e| {
        let out = e
            .images
            .remove(&rest, force, |id| e.image_user(&id.to_string()))?;
        Ok(Json(Value::Array(
            out.into_iter().map(|(k, v)| json!({ k: v })).collect(),
        )))
    })
    .await
}

/// `POST /build/prune` (`docker system prune` asks): berth keeps no build cache, so there is
/// never anything to delete.
pub async fn build_prune() -> Json<Value> {
    Json(json!({"CachesDeleted": [], "SpaceReclaimed": 0}))
}

pub async fn prune(State(eng): State<Eng>) -> ApiResult<Json<Value>> {
    blocking(&eng, |e| {
        let deleted = e
            .images
            .prune(|id| e.image_user(&id.to_string()).is_some())?;
        let deleted: Vec<Value> = deleted
            .iter()
            .map(|id| json!({"Deleted": id.to_string()}))
            .collect();
        Ok(Json(json!({"ImagesDeleted": deleted, "SpaceReclaimed": 0})))
    })
    .await
}
