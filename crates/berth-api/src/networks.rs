//! `/networks`: list, inspect, create, remove, prune, connect and disconnect (bridge
//! networks; `host` and `none` as docker shows them).

use crate::containers::filters;
use crate::error::{ApiError, ApiResult};
use crate::{blocking, Eng};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_engine::model::EndpointSettings;
use berth_engine::{Engine, NetCreate, NetworkRecord};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

type Q = Query<HashMap<String, String>>;

fn shape(n: &NetworkRecord, containers: Value) -> Value {
    let mut cfg = json!({"Subnet": n.net.subnet.to_string(), "Gateway": n.net.gateway.to_string()});
    if let Some(r) = n.ip_range {
        cfg["IPRange"] = json!(r.to_string());
    }
    let mut options = n.options.clone();
    options.insert(berth_engine::OPT_BRIDGE_NAME.into(), n.net.bridge.clone());
    if n.name == "bridge" {
        options.insert(
            "com.docker.network.bridge.default_bridge".into(),
            "true".into(),
        );
        options.insert(
            "com.docker.network.driver.mtu".into(),
            n.net.mtu.to_string(),
        );
    }
    let mut configs = vec![cfg];
    if let (Some(s6), Some(g6)) = (n.net.subnet6, n.net.gateway6) {
        configs.push(json!({"Subnet": s6.to_string(), "Gateway": g6.to_string()}));
    }
    json!({
        "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local", "Driver": "bridge",
        "EnableIPv6": n.net.subnet6.is_some(), "Internal": n.net.internal, "Attachable": false, "Ingress": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": configs},
        "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
        "Containers": containers,
        "Options": options,
        "Labels": n.labels,
    })
}

fn pseudo(name: &str) -> Value {
    json!({"Name": name, "Id": name, "Created": "0001-01-01T00:00:00Z", "Scope": "local", "Driver": name,
           "EnableIPv6": false, "Internal": false, "Attachable": false, "Ingress": false,
           "IPAM": {"Driver": "default", "Options": null, "Config": []},
           "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
           "Containers": {}, "Options": {}, "Labels": {}})
}

/// The containers attached to `n` now, as `network inspect` lists them.
fn endpoints(e: &Engine, n: &NetworkRecord) -> Value {
    let mut containers = Map::new();
    for c in e.list() {
        if let Some(a) = c.nets.iter().find(|a| a.network_id == n.id) {
            containers.insert(
                c.id.clone(),
                json!({"Name": c.name, "EndpointID": c.id, "MacAddress": a.mac,
                "IPv4Address": format!("{}/{}", a.ip, a.prefix),
                "IPv6Address": if a.ip6.is_empty() { String::new() } else { format!("{}/{}", a.ip6, a.prefix6) }}),
            );
        }
    }
    Value::Object(containers)
}

/// docker's `network ls --filter`: name (substring), id (prefix), driver, label, type.
fn matches(v: &Value, f: &HashMap<String, Vec<String>>) -> bool {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let builtin = matches!(s("Name").as_str(), "bridge" | "host" | "none");
    f.iter().all(|(k, want)| {
        want.iter().any(|w| match k.as_str() {
            "name" => s("Name").contains(w.as_str()),
            "id" => s("Id").starts_with(w.as_str()),
            "driver" => s("Driver") == *w,
            "type" => (w == "builtin") == builtin,
            "label" => match w.split_once('=') {
                Some((lk, lv)) => v["Labels"][lk].as_str() == Some(lv),
                None => v["Labels"].get(w.as_str()).is_some(),
            },
            _ => true,
        })
    })
}

pub async fn list(State(eng): State<Eng>, q: Q) -> ApiResult<Json<Value>> {
    let f = filters(&q)?;
    blocking(&eng, move |e| {
        let mut out: Vec<Value> = e
            .networks()
            .iter()
            .map(|n| shape(n, endpoints(e, n)))
            .collect();
        out.push(pseudo("host"));
        out.push(pseudo("none"));
        out.retain(|v| matches(v, &f));
        Ok(Json(Value::Array(out)))
    })
    .await
}

pub async fn inspect(State(eng): State<Eng>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    blocking(&eng, move |e| {
        if id == "host" || id == "none" {
            return Ok(Json(pseudo(&id)));
        }
        let n = e.network(&id)?;
        Ok(Json(shape(&n, endpoints(e, &n))))
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct IpamConfig {
    subnet: String,
    #[serde(rename = "IPRange")]
    ip_range: String,
    gateway: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Ipam {
    driver: String,
    config: Option<Vec<IpamConfig>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    internal: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    ipam: Option<Ipam>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

fn opt(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

pub async fn create(State(eng): State<Eng>, body: Bytes) -> ApiResult<Response> {
    let b: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("invalid network create body: {e}")))?;
    let ipam = b.ipam.unwrap_or_default();
    if !ipam.driver.is_empty() && ipam.driver != "default" {
        return Err(ApiError::bad(format!(
            "IPAM driver {} is not supported (only default)",
            ipam.driver
        )));
    }
    // One IPv4 and, on a dual-stack network, one IPv6 subnet.
    let (v6, v4): (Vec<IpamConfig>, Vec<IpamConfig>) = ipam
        .config
        .unwrap_or_default()
        .into_iter()
        .partition(|c| c.subnet.contains(':') || c.gateway.contains(':'));
    if v4.len() > 1 || v6.len() > 1 {
        return Err(ApiError::bad(
            "berth supports one IPv4 and one IPv6 subnet per network".to_string(),
        ));
    }
    let c = v4.into_iter().next().unwrap_or_default();
    let c6 = v6.into_iter().next().unwrap_or_default();
    if !c6.ip_range.is_empty() {
        return Err(ApiError::bad(
            "berth does not support an ip-range on an IPv6 subnet".to_string(),
        ));
    }
    let req = NetCreate {
        name: b.name,
        driver: b.driver,
        internal: b.internal,
        enable_ipv6: b.enable_ipv6.unwrap_or(false),
        subnet: opt(c.subnet),
        gateway: opt(c.gateway),
        ip_range: opt(c.ip_range),
        subnet6: opt(c6.subnet),
        gateway6: opt(c6.gateway),
        options: b.options.unwrap_or_default(),
        labels: b.labels.unwrap_or_default(),
    };
    let rec = blocking(&eng, move |e| Ok(e.network_create(&req)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": rec.id, "Warning": ""})),
    )
        .into_response())
}

pub async fn remove(State(eng): State<Eng>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    blocking(&eng, move |e| Ok(e.network_remove(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn prune(State(eng): State<Eng>) -> ApiResult<Json<Value>> {
    let gone = blocking(&eng, |e| Ok(e.network_prune()?)).await?;
    Ok(Json(json!({ "NetworksDeleted": gone })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    container: String,
    endpoint_config: Option<EndpointSettings>,
    force: bool,
}

pub async fn connect(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let b: ConnectBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("invalid network connect body: {e}")))?;
    blocking(&eng, move |e| {
        Ok(e.network_connect(&id, &b.container, b.endpoint_config.unwrap_or_default())?)
    })
    .await?;
    Ok(StatusCode::OK)
}

pub async fn disconnect(
    State(eng): State<Eng>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let b: ConnectBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(format!("invalid network disconnect body: {e}")))?;
    blocking(&eng, move |e| {
        Ok(e.network_disconnect(&id, &b.container, b.force)?)
    })
    .await?;
    Ok(StatusCode::OK)
}
