//! docker's JSON shapes for containers: `inspect` and the `ps` summary, built from the
//! engine's records.

use berth_engine::{ContainerRecord, Engine, Status};
use serde_json::{json, Map, Value};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn or_zero(t: &str) -> &str {
    if t.is_empty() {
        ZERO_TIME
    } else {
        t
    }
}

fn secs_since(t: &str) -> u64 {
    humantime::parse_rfc3339(t)
        .ok()
        .and_then(|s| s.elapsed().ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn unix_secs(t: &str) -> i64 {
    humantime::parse_rfc3339(t)
        .ok()
        .and_then(|s| s.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// docker's `units.HumanDuration`.
pub fn human_duration(secs: u64) -> String {
    let (m, h) = (secs / 60, secs / 3600);
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if m == 1 => "About a minute".into(),
        _ if m < 60 => format!("{m} minutes"),
        _ if h == 1 => "About an hour".into(),
        _ if h < 48 => format!("{h} hours"),
        _ if h < 24 * 7 * 2 => format!("{} days", h / 24),
        _ if h < 24 * 30 * 2 => format!("{} weeks", h / 24 / 7),
        _ if h < 24 * 365 * 2 => format!("{} months", h / 24 / 30),
        _ => format!("{} years", h / 24 / 365),
    }
}

/// `ps`'s STATUS column.
pub fn status_line(r: &ContainerRecord) -> String {
    match r.state.status {
        Status::Running | Status::Starting => {
            let up = format!("Up {}", human_duration(secs_since(&r.state.started_at)));
            match r.state.health.as_ref().map(|h| h.status.as_str()) {
                Some("starting") => format!("{up} (health: starting)"),
                Some(s) => format!("{up} ({s})"),
                None => up,
            }
        }
        Status::Paused => format!(
            "Up {} (Paused)",
            human_duration(secs_since(&r.state.started_at))
        ),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            r.state.exit_code,
            human_duration(secs_since(&r.state.finished_at))
        ),
        Status::Exited | Status::Dead => format!(
            "Exited ({}) {} ago",
            r.state.exit_code,
            human_duration(secs_since(&r.state.finished_at))
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Created | Status::Creating => "Created".into(),
    }
}

fn ports_map(r: &ContainerRecord) -> Value {
    let mut m = Map::new();
    for k in r.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
        m.insert(k.clone(), Value::Null);
    }
    for p in &r.ports {
        let key = format!("{}/{}", p.container_port, p.proto);
        let ip = if p.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &p.host_ip
        };
        let entry = m.entry(key).or_insert(Value::Null);
        if !entry.is_array() {
            *entry = json!([]);
        }
        if let Some(a) = entry.as_array_mut() {
            a.push(json!({"HostIp": ip, "HostPort": p.host_port.to_string()}));
        }
    }
    Value::Object(m)
}

fn networks(r: &ContainerRecord) -> Value {
    let mode = r.network_mode();
    let mut m = Map::new();
    let ep = |net: &str,
              id: &str,
              ip: &str,
              prefix: u8,
              gw: &str,
              mac: &str,
              aliases: &[String]| {
        json!({
            "IPAMConfig": null, "Links": null,
            "Aliases": if aliases.is_empty() { Value::Null } else { json!(aliases) },
            "MacAddress": mac, "NetworkID": id, "EndpointID": if ip.is_empty() { "" } else { &r.id[..] },
            "Gateway": gw, "IPAddress": ip, "IPPrefixLen": prefix,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "DriverOpts": null, "DNSNames": if net == "bridge" { Value::Null } else { json!([r.name, &r.id[..12]]) },
        })
    };
    for n in &r.nets {
        let mut v = ep(
            &n.network,
            &n.network_id,
            &n.ip,
            n.prefix,
            &n.gateway,
            &n.mac,
            &n.aliases,
        );
        if !n.ip6.is_empty() {
            v["GlobalIPv6Address"] = json!(n.ip6);
            v["GlobalIPv6PrefixLen"] = json!(n.prefix6);
            v["IPv6Gateway"] = json!(n.gateway6);
        }
        m.insert(n.network.clone(), v);
    }
    if r.nets.is_empty() && !mode.starts_with("container:") {
        m.insert(mode.to_string(), ep(mode, "", "", 0, "", "", &[]));
    }
    Value::Object(m)
}

fn mounts(r: &ContainerRecord) -> Value {
    Value::Array(
        r.mounts
            .iter()
            .map(|m| {
                let mut v = json!({
                    "Type": m.typ, "Source": m.source, "Destination": m.destination,
                    "Mode": if m.rw { "" } else { "ro" }, "RW": m.rw, "Propagation": if m.typ == "bind" { "rprivate" } else { "" },
                });
                if m.typ == "volume" {
                    v["Name"] = json!(m.name);
                    v["Driver"] = json!("local");
                    v["Mode"] = json!("z");
                }
                v
            })
            .collect(),
    )
}

pub fn container(e: &Engine, r: &ContainerRecord) -> Value {
    let dir = e.container_dir(&r.id);
    let st = &r.state;
    let s = st.status;
    let (ip, prefix, gw, mac) = match r.nets.first() {
        Some(n) if n.network == "bridge" => {
            (n.ip.clone(), n.prefix, n.gateway.clone(), n.mac.clone())
        }
        _ => (String::new(), 0, String::new(), String::new()),
    };
    let mut hc = serde_json::to_value(&r.host_config).unwrap_or(json!({}));
    if r.host_config.network_mode.is_empty() {
        hc["NetworkMode"] = json!("bridge");
    }
    // docker fills in its default log driver; SDKs read it (docker-py's `containers.run`
    // only collects the output of a container whose driver is json-file or journald).
    if r.host_config.log_config.typ.is_empty() {
        hc["LogConfig"]["Type"] = json!("json-file");
    }
    let mut v = json!({
        "Id": r.id,
        "Created": r.created,
        "Path": r.path,
        "Args": r.args,
        "State": {
            "Status": s.docker(),
            "Running": s.is_live() || s == Status::Paused,
            "Paused": s == Status::Paused,
            "Restarting": s == Status::Restarting,
            "OOMKilled": st.oom_killed,
            "Dead": s == Status::Dead,
            "Pid": st.pid,
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": or_zero(&st.started_at),
            "FinishedAt": or_zero(&st.finished_at),
        },
        "Image": r.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": dir.join("container.log"),
        "Name": format!("/{}", r.name),
        "RestartCount": r.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": null,
        "HostConfig": hc,
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {
                "MergedDir": dir.join("rootfs"),
                "UpperDir": dir.join("upper"),
                "WorkDir": dir.join("work"),
            },
        },
        "Mounts": mounts(r),
        "Config": r.config,
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "HairpinMode": false,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": ports_map(r),
            "SandboxKey": if st.pid > 0 { format!("/proc/{}/ns/net", st.pid) } else { String::new() },
            "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
            "EndpointID": if ip.is_empty() { "" } else { &r.id[..] },
            "Gateway": gw, "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "IPAddress": ip, "IPPrefixLen": prefix, "IPv6Gateway": "", "MacAddress": mac,
            "Networks": networks(r),
        },
    });
    // As docker: `State.Health` only for a container with a healthcheck.
    if let Some(h) = &st.health {
        v["State"]["Health"] = json!(h);
    }
    v
}

/// One row of `GET /containers/json`.
pub fn summary(r: &ContainerRecord) -> Value {
    let mut command = r.path.clone();
    for a in &r.args {
        command.push(' ');
        command.push_str(a);
    }
    let ports: Vec<Value> = r
        .ports
        .iter()
        .map(|p| {
            json!({"IP": if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip },
                   "PrivatePort": p.container_port, "PublicPort": p.host_port, "Type": p.proto})
        })
        .chain(
            r.config
                .exposed_ports
                .iter()
                .flatten()
                .map(|(k, _)| k)
                .filter(|k| {
                    !r.ports
                        .iter()
                        .any(|p| &format!("{}/{}", p.container_port, p.proto) == *k)
                })
                .filter_map(|k| {
                    let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
                    Some(json!({"PrivatePort": port.parse::<u16>().ok()?, "Type": proto}))
                }),
        )
        .collect();
    json!({
        "Id": r.id,
        "Names": [format!("/{}", r.name)],
        "Image": r.image,
        "ImageID": r.image_id,
        "Command": command,
        "Created": unix_secs(&r.created),
        "Ports": ports,
        "Labels": r.config.labels.clone().unwrap_or_default(),
        "State": r.state.status.docker(),
        "Status": status_line(r),
        "HostConfig": {"NetworkMode": r.network_mode()},
        "NetworkSettings": {"Networks": networks(r)},
        "Mounts": mounts(r),
    })
}
