//! `ps` / `container ls`: docker's container table (truncated ids, quoted commands, grouped
//! port ranges) and its `--format` fields.

use std::collections::HashMap;

use clap::Args;
use serde_json::{json, Value};

use super::{i, s, short_id};
use crate::error::Result;
use crate::format;
use crate::http::{filters_json, query, Client};
use crate::humanize;
use crate::output::out;

/// `ps [OPTIONS]`
#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')
    #[arg(long)]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
}

const DEFAULT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// Column titles for the fields.
pub fn header() -> Value {
    json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
        "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
        "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
    })
}

/// `berth ps`.
pub fn ps(client: &Client, a: &PsArgs) -> Result<i32> {
    let fmt = match (&a.format, a.quiet, a.size) {
        (Some(f), _, _) => f.clone(),
        (None, true, _) => "{{.ID}}".into(),
        (None, false, true) => format!("{DEFAULT}\t{{{{.Size}}}}"),
        (None, false, false) => DEFAULT.into(),
    };
    let mut q = Vec::new();
    if a.all {
        q.push(("all", "1".to_string()));
    }
    let last = if a.latest && a.last == -1 { 1 } else { a.last };
    if last > 0 {
        q.push(("limit", last.to_string()));
    }
    if a.size || fmt.contains(".Size") {
        q.push(("size", "1".to_string()));
    }
    if let Some(f) = filters_json(&a.filter)? {
        q.push(("filters", f));
    }
    let list = client.get_json(&format!("/containers/json{}", query(&q)))?;
    let now = humanize::now_unix();
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| row(c, !a.no_trunc, now))
        .collect();
    out(&format::list(Some(&fmt), DEFAULT, &header(), &rows)?)?;
    Ok(0)
}

/// docker's `formatter.Ellipsis`: at most `max` characters, the last one "…" when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One `--format` row for a container summary.
pub fn row(c: &Value, trunc: bool, now: i64) -> Value {
    let id = s(c, "Id");
    let image = image_column(s(c, "Image"), s(c, "ImageID"), trunc);
    let command = s(c, "Command");
    let created = i(c, "Created");
    let mut labels: Vec<String> = c["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    labels.sort();
    let mounts: Vec<String> = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let name = if s(m, "Name").is_empty() {
                s(m, "Source")
            } else {
                s(m, "Name")
            };
            if trunc {
                ellipsis(name, 15)
            } else {
                name.to_string()
            }
        })
        .collect();
    let local_volumes = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| s(m, "Driver") == "local")
        .count();
    let mut networks: Vec<String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    let size_rw = i(c, "SizeRw");
    let size_root = i(c, "SizeRootFs");
    let mut size = humanize::size_prec(size_rw as f64, 3);
    if size_root > 0 {
        size = format!(
            "{size} (virtual {})",
            humanize::size_prec(size_root as f64, 3)
        );
    }
    json!({
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Image": image,
        "Command": go_quote(&if trunc { ellipsis(command, 20) } else { command.to_string() }),
        "CreatedAt": humanize::go_time(created),
        "RunningFor": humanize::ago_from(created, now),
        "Ports": displayable_ports(c["Ports"].as_array().map(Vec::as_slice).unwrap_or(&[])),
        "State": s(c, "State"),
        "Status": status(c, now),
        "Size": size,
        "Names": names(&super::strs(c, "Names"), trunc),
        "Labels": labels.join(","),
        "Mounts": mounts.join(","),
        "Networks": networks.join(","),
        "LocalVolumes": local_volumes.to_string(),
        "Platform": c.get("ImageManifestDescriptor").and_then(|d| d.get("platform")).cloned().unwrap_or(Value::Null),
    })
}

/// docker's IMAGE column: the short id when the image was given by id, the familiar
/// reference without its digest otherwise.
fn image_column(image: &str, image_id: &str, trunc: bool) -> String {
    if image.is_empty() {
        return "<no image>".into();
    }
    if !trunc {
        return image.to_string();
    }
    if !image_id.is_empty() && short_id(image_id) == short_id(image) {
        return short_id(image);
    }
    match crate::reference::parse(image) {
        Ok(r) if r.tag.is_some() => format!("{}:{}", r.familiar_name(), r.tag.unwrap_or_default()),
        Ok(r) => r.familiar_name(),
        Err(_) => image.to_string(),
    }
}

/// The daemon's Status text; rebuilt from State when a daemon leaves it empty.
fn status(c: &Value, _now: i64) -> String {
    let st = s(c, "Status");
    if !st.is_empty() {
        return st.to_string();
    }
    match s(c, "State") {
        "created" => "Created".into(),
        "running" => "Up".into(),
        "paused" => "Up (Paused)".into(),
        "exited" => "Exited".into(),
        other => other.to_string(),
    }
}

/// Names without the leading "/", link names dropped when truncating, comma-joined.
fn names(list: &[String], trunc: bool) -> String {
    let names: Vec<&str> = list
        .iter()
        .map(|n| n.strip_prefix('/').unwrap_or(n))
        .collect();
    if trunc {
        if let Some(n) = names.iter().find(|n| !n.contains('/')) {
            return n.to_string();
        }
    }
    names.join(",")
}

fn join_host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// docker's `DisplayablePorts`: "0.0.0.0:8000-8001->80-81/tcp, 443/tcp".
pub fn displayable_ports(ports: &[Value]) -> String {
    struct P {
        ip: String,
        private: u64,
        public: u64,
        kind: String,
    }
    let mut ps: Vec<P> = ports
        .iter()
        .map(|p| P {
            ip: s(p, "IP").to_string(),
            private: p["PrivatePort"].as_u64().unwrap_or(0),
            public: p["PublicPort"].as_u64().unwrap_or(0),
            kind: s(p, "Type").to_string(),
        })
        .collect();
    ps.sort_by(|a, b| {
        (a.private, &a.ip, a.public, &a.kind).cmp(&(b.private, &b.ip, b.public, &b.kind))
    });
    let mut groups: HashMap<String, (u64, u64)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    for p in &ps {
        let mut key = p.kind.clone();
        if !p.ip.is_empty() {
            if p.public != p.private {
                host_mappings.push(format!(
                    "{}->{}/{}",
                    join_host_port(&p.ip, &p.public.to_string()),
                    p.private,
                    p.kind
                ));
                continue;
            }
            key = format!("{}/{}", p.ip, p.kind);
        }
        match groups.get_mut(&key) {
            None => {
                groups.insert(key.clone(), (p.private, p.private));
                order.push(key);
            }
            Some(g) if p.private == g.1 + 1 => g.1 = p.private,
            Some(g) => {
                result.push(form_group(&key, g.0, g.1));
                *g = (p.private, p.private);
            }
        }
    }
    for key in &order {
        if let Some(g) = groups.get(key) {
            result.push(form_group(key, g.0, g.1));
        }
    }
    result.extend(host_mappings);
    result.join(", ")
}

fn form_group(key: &str, start: u64, last: u64) -> String {
    let (ip, kind) = match key.rsplit_once('/') {
        Some((ip, kind)) => (ip, kind),
        None => ("", key),
    };
    let mut group = start.to_string();
    if start != last {
        group = format!("{group}-{last}");
    }
    if !ip.is_empty() {
        group = format!("{}->{group}", join_host_port(ip, &group));
    }
    format!("{group}/{kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_display() {
        let ports = vec![
            json!({"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}),
            json!({"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}),
            json!({"PrivatePort": 443, "Type": "tcp"}),
            json!({"PrivatePort": 444, "Type": "tcp"}),
            json!({"IP": "0.0.0.0", "PrivatePort": 9000, "PublicPort": 9000, "Type": "udp"}),
            json!({"IP": "0.0.0.0", "PrivatePort": 9001, "PublicPort": 9001, "Type": "udp"}),
        ];
        assert_eq!(
            displayable_ports(&ports),
            "443-444/tcp, 0.0.0.0:9000-9001->9000-9001/udp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
        );
        assert_eq!(displayable_ports(&[]), "");
    }

    #[test]
    fn command_and_names() {
        assert_eq!(
            go_quote(&ellipsis("sh -c 'while true; do sleep 1; done'", 20)),
            "\"sh -c 'while true; …\""
        );
        assert_eq!(go_quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(names(&["/web".into(), "/other/link".into()], true), "web");
        assert_eq!(
            names(&["/web".into(), "/other/link".into()], false),
            "web,other/link"
        );
    }

    #[test]
    fn table() {
        let c = json!({
            "Id": "0123456789abcdef0123", "Names": ["/web"], "Image": "busybox",
            "Command": "sleep 100", "Created": 1000, "State": "running", "Status": "Up 3 seconds",
            "Ports": []
        });
        let out = format::list(None, DEFAULT, &header(), &[row(&c, true, 1150)]).unwrap();
        assert_eq!(
            out,
            "CONTAINER ID   IMAGE     COMMAND       CREATED         STATUS         PORTS     NAMES\n\
             0123456789ab   busybox   \"sleep 100\"   2 minutes ago   Up 3 seconds             web\n"
        );
    }
}
