//! `/networks`: list and inspect (the default bridge, host and none; user networks come
//! with the network issue).

use crate::error::ApiResult;
use crate::{blocking, Eng};
use axum::extract::{Path, State};
use axum::Json;
use berth_engine::NetworkRecord;
use serde_json::{json, Value};

fn shape(n: &NetworkRecord, containers: Value) -> Value {
    json!({
        "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local", "Driver": "bridge",
        "EnableIPv6": false, "Internal": n.net.internal, "Attachable": false, "Ingress": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": [{"Subnet": n.net.subnet.to_string(), "Gateway": n.net.gateway.to_string()}]},
        "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": n.net.bridge, "com.docker.network.driver.mtu": n.net.mtu.to_string()},
        "Labels": n.labels,
    })
}

fn pseudo(name: &str) -> Value {
    json!({"Name": name, "Id": name, "Created": "0001-01-01T00:00:00Z", "Scope": "local", "Driver": name,
           "EnableIPv6": false, "Internal": false, "IPAM": {"Driver": "default", "Config": []},
           "Containers": {}, "Options": {}, "Labels": {}})
}

pub async fn list(State(eng): State<Eng>) -> ApiResult<Json<Value>> {
    blocking(&eng, |e| {
        let mut out: Vec<Value> = e.networks().iter().map(|n| shape(n, json!({}))).collect();
        out.push(pseudo("host"));
        out.push(pseudo("none"));
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
        let mut containers = serde_json::Map::new();
        for c in e.list() {
            if let Some(a) = c.net.as_ref().filter(|a| a.network == n.name) {
                containers.insert(
                    c.id.clone(),
                    json!({"Name": c.name, "EndpointID": c.id, "MacAddress": a.mac,
                    "IPv4Address": format!("{}/{}", a.ip, a.prefix), "IPv6Address": ""}),
                );
            }
        }
        Ok(Json(shape(&n, Value::Object(containers))))
    })
    .await
}
