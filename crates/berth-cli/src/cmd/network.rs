//! `network create / ls / inspect / rm / prune / connect / disconnect`.

use std::net::IpAddr;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::{each, s, short_id};
use crate::error::{Error, Result};
use crate::format;
use crate::http::{enc_path, filters_json, query, Client};
use crate::opts;
use crate::output::{confirm, out, outln};

/// `network COMMAND`
#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

/// `network create [OPTIONS] NETWORK`
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long)]
    pub subnet: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range")]
    pub ip_range: Vec<String>,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", default_value = "default")]
    pub ipam_driver: String,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable or disable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Set metadata on a network
    #[arg(long)]
    pub label: Vec<String>,
    pub name: String,
}

/// `network ls [OPTIONS]`
#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
}

/// `network inspect [OPTIONS] NETWORK [NETWORK...]`
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(value_name = "NETWORK", required = true)]
    pub names: Vec<String>,
}

/// `network rm NETWORK [NETWORK...]`
#[derive(Args, Debug)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "NETWORK", required = true)]
    pub names: Vec<String>,
}

/// `network prune [OPTIONS]`
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
}

/// `network connect [OPTIONS] NETWORK CONTAINER`
#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long)]
    pub ip6: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long)]
    pub alias: Vec<String>,
    pub network: String,
    pub container: String,
}

/// `network disconnect [OPTIONS] NETWORK CONTAINER`
#[derive(Args, Debug)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

/// Runs a `network` subcommand.
pub fn run(client: &Client, cmd: &NetworkCmd) -> Result<i32> {
    match cmd {
        NetworkCmd::Create(a) => create(client, a),
        NetworkCmd::Ls(a) => ls(client, a),
        NetworkCmd::Inspect(a) => super::inspect::by_kind(
            client,
            &a.names,
            Some("network"),
            a.format.as_deref(),
            false,
        ),
        NetworkCmd::Rm(a) => {
            each(&a.names, true, |n| {
                match client.delete(&format!("/networks/{}", enc_path(n))) {
                    Err(e) if a.force && e.is_status(404) => Ok(()),
                    r => r.map(|_| ()),
                }
            })?;
            Ok(0)
        }
        NetworkCmd::Prune(a) => prune(client, a),
        NetworkCmd::Connect(a) => {
            let mut ipam = Map::new();
            if let Some(ip) = &a.ip {
                ipam.insert("IPv4Address".into(), json!(ip));
            }
            if let Some(ip) = &a.ip6 {
                ipam.insert("IPv6Address".into(), json!(ip));
            }
            let mut ep =
                json!({"Aliases": if a.alias.is_empty() { Value::Null } else { json!(a.alias) }});
            if !ipam.is_empty() {
                ep["IPAMConfig"] = Value::Object(ipam);
            }
            let body = json!({"Container": a.container, "EndpointConfig": ep});
            client.post_json(
                &format!("/networks/{}/connect", enc_path(&a.network)),
                Some(&body),
            )?;
            Ok(0)
        }
        NetworkCmd::Disconnect(a) => {
            let body = json!({"Container": a.container, "Force": a.force});
            client.post_json(
                &format!("/networks/{}/disconnect", enc_path(&a.network)),
                Some(&body),
            )?;
            Ok(0)
        }
    }
}

/// An address/prefix pair from CIDR text.
fn cidr(s: &str) -> Option<(IpAddr, u32)> {
    let (ip, len) = s.split_once('/')?;
    Some((ip.parse().ok()?, len.parse().ok()?))
}

fn contains(net: &str, ip: IpAddr) -> bool {
    let Some((base, len)) = cidr(net) else {
        return false;
    };
    match (base, ip) {
        (IpAddr::V4(b), IpAddr::V4(i)) if len <= 32 => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(b) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(b), IpAddr::V6(i)) if len <= 128 => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(b) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// The IPAM `Config` list: each gateway and ip-range goes with the subnet containing it.
pub fn ipam_config(
    subnets: &[String],
    gateways: &[String],
    ranges: &[String],
) -> Result<Vec<Value>> {
    if subnets.is_empty() && !(gateways.is_empty() && ranges.is_empty()) {
        return Err(Error::usage(
            "every ip-range or gateway must have a corresponding subnet",
        ));
    }
    let mut configs: Vec<Map<String, Value>> = Vec::new();
    for sn in subnets {
        if cidr(sn).is_none() {
            return Err(Error::usage(format!("invalid CIDR address: {sn}")));
        }
        let mut m = Map::new();
        m.insert("Subnet".into(), json!(sn));
        configs.push(m);
    }
    for r in ranges {
        let (ip, _) = cidr(r).ok_or_else(|| Error::usage(format!("invalid CIDR address: {r}")))?;
        let c = configs
            .iter_mut()
            .find(|c| c["Subnet"].as_str().is_some_and(|sn| contains(sn, ip)))
            .ok_or_else(|| Error::usage(format!("no matching subnet for range {r}")))?;
        if c.contains_key("IPRange") {
            return Err(Error::usage(format!(
                "cannot configure multiple ranges ({r}, {}) on the same subnet",
                c["IPRange"].as_str().unwrap_or("")
            )));
        }
        c.insert("IPRange".into(), json!(r));
    }
    for g in gateways {
        let ip: IpAddr = g
            .parse()
            .map_err(|_| Error::usage(format!("invalid gateway: {g}")))?;
        let c = configs
            .iter_mut()
            .find(|c| c["Subnet"].as_str().is_some_and(|sn| contains(sn, ip)))
            .ok_or_else(|| Error::usage(format!("no matching subnet for gateway {g}")))?;
        if c.contains_key("Gateway") {
            return Err(Error::usage(format!(
                "cannot configure multiple gateways ({g}, {}) for the same subnet",
                c["Gateway"].as_str().unwrap_or("")
            )));
        }
        c.insert("Gateway".into(), json!(g));
    }
    Ok(configs.into_iter().map(Value::Object).collect())
}

/// The body of `POST /networks/create`.
pub fn create_body(a: &CreateArgs) -> Result<Value> {
    let mut body = json!({
        "Name": a.name,
        "Driver": a.driver,
        "Scope": "",
        "IPAM": {
            "Driver": a.ipam_driver,
            "Options": {},
            "Config": ipam_config(&a.subnet, &a.gateway, &a.ip_range)?,
        },
        "Internal": a.internal,
        "Attachable": a.attachable,
        "Ingress": false,
        "ConfigOnly": false,
        "ConfigFrom": null,
        "Options": opts::kv_map(&a.opt, "-o, --opt")?,
        "Labels": opts::labels(&a.label, &[])?,
    });
    if a.ipv6 {
        body["EnableIPv6"] = json!(true);
    }
    Ok(body)
}

fn create(client: &Client, a: &CreateArgs) -> Result<i32> {
    let v = client.post_json("/networks/create", Some(&create_body(a)?))?;
    if let Some(w) = v["Warning"].as_str().filter(|w| !w.is_empty()) {
        crate::output::errln(&format!("WARNING: {w}"));
    }
    outln(s(&v, "Id"))?;
    Ok(0)
}

fn ls(client: &Client, a: &LsArgs) -> Result<i32> {
    let q = match filters_json(&a.filter)? {
        Some(f) => query(&[("filters", f)]),
        None => String::new(),
    };
    let v = client.get_json(&format!("/networks{q}"))?;
    let mut nets: Vec<&Value> = v.as_array().into_iter().flatten().collect();
    nets.sort_by(|a, b| s(a, "Name").cmp(s(b, "Name")));
    let rows: Vec<Value> = nets
        .into_iter()
        .map(|n| {
            let mut labels: Vec<String> = n["Labels"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or("")))
                .collect();
            labels.sort();
            json!({
                "ID": if a.no_trunc { s(n, "Id").to_string() } else { short_id(s(n, "Id")) },
                "Name": s(n, "Name"), "Driver": s(n, "Driver"), "Scope": s(n, "Scope"),
                "IPv6": n["EnableIPv6"].as_bool().unwrap_or(false).to_string(),
                "Internal": n["Internal"].as_bool().unwrap_or(false).to_string(),
                "Labels": labels.join(","), "CreatedAt": s(n, "Created"),
            })
        })
        .collect();
    let default = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
    let fmt = match (&a.format, a.quiet) {
        (Some(f), _) => f.as_str(),
        (None, true) => "{{.ID}}",
        (None, false) => default,
    };
    let header = json!({
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
        "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
    });
    out(&format::list(Some(fmt), default, &header, &rows)?)?;
    Ok(0)
}

fn prune(client: &Client, a: &PruneArgs) -> Result<i32> {
    if !a.force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )?
    {
        return Ok(0);
    }
    let q = match filters_json(&a.filter)? {
        Some(f) => query(&[("filters", f)]),
        None => String::new(),
    };
    let v = client.post_json(&format!("/networks/prune{q}"), None)?;
    let deleted = super::strs(&v, "NetworksDeleted");
    if !deleted.is_empty() {
        outln("Deleted Networks:")?;
        for d in &deleted {
            outln(d)?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: CreateArgs,
    }

    #[test]
    fn create_body_like_docker() {
        let t = T::try_parse_from([
            "t",
            "--subnet",
            "10.1.0.0/16",
            "--gateway",
            "10.1.0.1",
            "--ip-range",
            "10.1.1.0/24",
            "--internal",
            "--ipv6",
            "-o",
            "a=b",
            "--label",
            "l=v",
            "n1",
        ])
        .unwrap();
        let b = create_body(&t.a).unwrap();
        assert_eq!(
            b,
            json!({
                "Name": "n1", "Driver": "bridge", "Scope": "", "EnableIPv6": true,
                "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": "10.1.0.0/16", "IPRange": "10.1.1.0/24", "Gateway": "10.1.0.1"}]},
                "Internal": true, "Attachable": false, "Ingress": false, "ConfigOnly": false,
                "ConfigFrom": null, "Options": {"a": "b"}, "Labels": {"l": "v"},
            })
        );
    }

    #[test]
    fn ipam_pairing_errors() {
        assert!(ipam_config(&[], &["10.0.0.1".into()], &[]).is_err());
        assert!(ipam_config(&["10.0.0.0/24".into()], &["10.9.0.1".into()], &[]).is_err());
        let c = ipam_config(
            &["10.0.0.0/24".into(), "fd00::/64".into()],
            &["fd00::1".into()],
            &[],
        )
        .unwrap();
        assert_eq!(c[1]["Gateway"], "fd00::1");
    }
}
