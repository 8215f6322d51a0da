//! `/volumes`: create, list, inspect, remove, prune (the local driver).

use crate::containers::{filters, flag};
use crate::error::{ApiError, ApiResult};
use crate::{blocking, Eng};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

type Q = Query<HashMap<String, String>>;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    labels: Option<BTreeMap<String, String>>,
}

pub async fn create(State(eng): State<Eng>, body: Bytes) -> ApiResult<Response> {
    let b: CreateBody = serde_json::from_slice(&body).map_err(|e| ApiError::bad(e.to_string()))?;
    if !b.driver.is_empty() && b.driver != "local" {
        return Err(ApiError::bad(format!(
            "volume driver {} is not supported (only local)",
            b.driver
        )));
    }
    let v = blocking(&eng, move |e| {
        Ok(e.volume_create(Some(&b.name), b.labels.unwrap_or_default(), false)?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub async fn list(State(eng): State<Eng>, q: Q) -> ApiResult<Json<Value>> {
    let f = filters(&q)?;
    blocking(&eng, move |e| {
        let vols: Vec<_> = e
            .volume_list()?
            .into_iter()
            .filter(|v| {
                f.get("name")
                    .is_none_or(|n| n.iter().any(|n| v.name.contains(n.as_str())))
            })
            .collect();
        Ok(Json(json!({"Volumes": vols, "Warnings": []})))
    })
    .await
}

pub async fn inspect(State(eng): State<Eng>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    blocking(&eng, move |e| {
        Ok(Json(
            serde_json::to_value(e.volume_get(&name)?).unwrap_or_default(),
        ))
    })
    .await
}

pub async fn remove(
    State(eng): State<Eng>,
    Path(name): Path<String>,
    q: Q,
) -> ApiResult<StatusCode> {
    let force = flag(&q, "force");
    blocking(&eng, move |e| Ok(e.volume_remove(&name, force)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn prune(State(eng): State<Eng>, q: Q) -> ApiResult<Json<Value>> {
    let f = filters(&q)?;
    let all = f
        .get("all")
        .is_some_and(|v| v.iter().any(|x| x == "true" || x == "1"));
    blocking(&eng, move |e| {
        let (gone, bytes) = e.volume_prune(all)?;
        Ok(Json(
            json!({"VolumesDeleted": gone, "SpaceReclaimed": bytes}),
        ))
    })
    .await
}
