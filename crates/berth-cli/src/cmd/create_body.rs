//! The translation of `run`/`create` flags into the JSON body docker sends to
//! `POST /containers/create` (Config + HostConfig + NetworkingConfig).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

pub use super::run_flags::{Attach, ContainerFlags};
use crate::error::{Error, Result};
use crate::opts::mounts::{self, VolumeSpec};
use crate::opts::{self, ports, units};

fn list(v: &[String]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

fn or_empty(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn size_flag(v: &Option<String>, flag: &str) -> Result<i64> {
    match v {
        None => Ok(0),
        Some(s) => units::ram_in_bytes(s).map_err(|e| {
            Error::usage(format!("invalid argument \"{s}\" for \"{flag}\" flag: {e}"))
        }),
    }
}

/// `--health-*` and `--no-healthcheck` as docker's `Healthcheck` (None: the image's).
fn healthcheck(f: &ContainerFlags) -> Result<Option<Value>> {
    let dur = |v: &Option<String>, flag: &str| -> Result<i64> {
        let Some(s) = v else { return Ok(0) };
        let ns = units::go_duration(s).map_err(|e| {
            Error::usage(format!("invalid argument \"{s}\" for \"{flag}\" flag: {e}"))
        })?;
        if ns < 0 {
            return Err(Error::usage(format!("{flag} cannot be negative")));
        }
        Ok(ns)
    };
    let timings = [
        dur(&f.health_interval, "--health-interval")?,
        dur(&f.health_timeout, "--health-timeout")?,
        dur(&f.health_start_period, "--health-start-period")?,
        dur(&f.health_start_interval, "--health-start-interval")?,
    ];
    let retries = f.health_retries.unwrap_or(0);
    if retries < 0 {
        return Err(Error::usage("--health-retries cannot be negative"));
    }
    let any = f.health_cmd.is_some() || timings.iter().any(|t| *t != 0) || retries != 0;
    if f.no_healthcheck {
        if any {
            return Err(Error::usage(
                "--no-healthcheck conflicts with --health-* options",
            ));
        }
        return Ok(Some(json!({"Test": ["NONE"]})));
    }
    if !any {
        return Ok(None);
    }
    let test = match &f.health_cmd {
        Some(c) => json!(["CMD-SHELL", c]),
        None => Value::Null,
    };
    let [interval, timeout, start_period, start_interval] = timings;
    Ok(Some(json!({
        "Test": test, "Interval": interval, "Timeout": timeout, "StartPeriod": start_period,
        "StartInterval": start_interval, "Retries": retries,
    })))
}

fn ulimit(s: &str) -> Result<Value> {
    let bad = || Error::usage(format!("invalid ulimit argument: {s}"));
    let (name, limits) = s.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let soft: i64 = soft.parse().map_err(|_| bad())?;
    let hard: i64 = hard.parse().map_err(|_| bad())?;
    Ok(json!({"Name": name, "Soft": soft, "Hard": hard}))
}

fn device(s: &str) -> Result<Value> {
    let parts: Vec<&str> = s.split(':').collect();
    let (host, cont, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, c] if c.chars().all(|ch| "rwm".contains(ch)) => (*h, *h, *c),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => return Err(Error::usage(format!("invalid device specification: {s}"))),
    };
    Ok(json!({"PathOnHost": host, "PathInContainer": cont, "CgroupPermissions": perms}))
}

/// The create request: the name for `?name=` and the JSON body.
pub fn build(
    f: &ContainerFlags,
    image: &str,
    cmd: &[String],
    attach: Attach,
    console: Option<(u16, u16)>,
) -> Result<Value> {
    let mut env = Vec::new();
    for file in &f.env_file {
        env.extend(opts::read_env_file(file)?);
    }
    env.extend(f.env.iter().map(|e| opts::env_var(e)));

    let mut exposed = Map::new();
    let mut bindings: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for spec in &f.publish {
        for m in ports::parse_publish(spec)? {
            exposed.insert(m.port.clone(), json!({}));
            bindings
                .entry(m.port)
                .or_default()
                .push(json!({"HostIp": m.host_ip, "HostPort": m.host_port}));
        }
    }
    for spec in &f.expose {
        for p in ports::parse_expose(spec)? {
            exposed.insert(p, json!({}));
        }
    }

    let mut binds = Vec::new();
    let mut volumes = Map::new();
    for spec in &f.volume {
        match mounts::parse_volume(spec)? {
            VolumeSpec::Bind(b) => binds.push(b),
            VolumeSpec::Anonymous(p) => {
                volumes.insert(p, json!({}));
            }
        }
    }
    let mount_list = f
        .mount
        .iter()
        .map(|m| mounts::parse_mount(m))
        .collect::<Result<Vec<_>>>()?;

    let restart = opts::restart_policy(or_empty(&f.restart))?;
    if f.rm && restart["Name"] != "no" {
        return Err(Error::usage(
            "conflicting options: cannot specify both --restart and --rm",
        ));
    }
    let entrypoint = f
        .entrypoint
        .as_ref()
        .map(|e| json!([e]))
        .unwrap_or(Value::Null);
    let network = f.network.clone().unwrap_or_else(|| "default".into());
    let labels = opts::labels(&f.label, &f.label_file)?;

    let mut config = json!({
        "Hostname": or_empty(&f.hostname),
        "Domainname": or_empty(&f.domainname),
        "User": or_empty(&f.user),
        "AttachStdin": attach.stdin,
        "AttachStdout": attach.stdout,
        "AttachStderr": attach.stderr,
        "Tty": f.tty,
        "OpenStdin": f.interactive,
        "StdinOnce": f.interactive && attach.stdin,
        "Env": list(&env),
        "Cmd": list(cmd),
        "Image": image,
        "Volumes": volumes,
        "WorkingDir": or_empty(&f.workdir),
        "Entrypoint": entrypoint,
        "OnBuild": null,
        "Labels": labels,
    });
    if !exposed.is_empty() {
        config["ExposedPorts"] = Value::Object(exposed);
    }
    if let Some(mac) = &f.mac_address {
        config["MacAddress"] = json!(mac);
    }
    if let Some(s) = &f.stop_signal {
        config["StopSignal"] = json!(s);
    }
    if let Some(t) = f.stop_timeout {
        config["StopTimeout"] = json!(t);
    }
    if let Some(h) = healthcheck(f)? {
        config["Healthcheck"] = h;
    }

    let mut host = json!({
        "Binds": list(&binds),
        "ContainerIDFile": or_empty(&f.cidfile),
        "LogConfig": {"Type": or_empty(&f.log_driver), "Config": opts::kv_map(&f.log_opt, "--log-opt")?},
        "NetworkMode": network,
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "AutoRemove": f.rm,
        "VolumesFrom": list(&f.volumes_from),
        "CapAdd": list(&f.cap_add.iter().map(|c| opts::capability(c)).collect::<Vec<_>>()),
        "CapDrop": list(&f.cap_drop.iter().map(|c| opts::capability(c)).collect::<Vec<_>>()),
        "CgroupnsMode": or_empty(&f.cgroupns),
        "Dns": f.dns,
        "DnsOptions": f.dns_option,
        "DnsSearch": f.dns_search,
        "ExtraHosts": list(&f.add_host),
        "GroupAdd": list(&f.group_add),
        "IpcMode": or_empty(&f.ipc),
        "Cgroup": "",
        "OomScoreAdj": f.oom_score_adj.unwrap_or(0),
        "PidMode": or_empty(&f.pid),
        "Privileged": f.privileged,
        "PublishAllPorts": f.publish_all,
        "ReadonlyRootfs": f.read_only,
        "SecurityOpt": list(&f.security_opt),
        "UTSMode": or_empty(&f.uts),
        "UsernsMode": or_empty(&f.userns),
        "ShmSize": size_flag(&f.shm_size, "--shm-size")?,
    });
    let mut resources = f.res.all()?;
    resources.extend(
        json!({
            "CgroupParent": or_empty(&f.cgroup_parent),
            "Devices": f.device.iter().map(|d| device(d)).collect::<Result<Vec<_>>>()?,
            "MemorySwappiness": -1,
            "OomKillDisable": f.oom_kill_disable,
            "Ulimits": f.ulimit.iter().map(|u| ulimit(u)).collect::<Result<Vec<_>>>()?,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    let resources = Value::Object(resources);
    if let (Value::Object(h), Value::Object(r)) = (&mut host, resources) {
        h.extend(r);
    }
    if !mount_list.is_empty() {
        host["Mounts"] = Value::Array(mount_list);
    }
    if f.init {
        host["Init"] = json!(true);
    }
    if !f.tmpfs.is_empty() {
        let mut t = Map::new();
        for spec in &f.tmpfs {
            let (p, o) = mounts::parse_tmpfs(spec)?;
            t.insert(p, json!(o));
        }
        host["Tmpfs"] = Value::Object(t);
    }
    if !f.sysctl.is_empty() {
        host["Sysctls"] = json!(opts::kv_map(&f.sysctl, "--sysctl")?);
    }
    if f.tty {
        if let Some((h, w)) = console {
            host["ConsoleSize"] = json!([h, w]);
        }
    }
    if let Value::Object(m) = &mut config {
        m.insert("HostConfig".into(), host);
        m.insert("NetworkingConfig".into(), networking(f)?);
    }
    Ok(config)
}

fn networking(f: &ContainerFlags) -> Result<Value> {
    let network = f.network.clone().unwrap_or_else(|| "default".into());
    let mut ipam = Map::new();
    if let Some(ip) = &f.ip {
        ipam.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = &f.ip6 {
        ipam.insert("IPv6Address".into(), json!(ip));
    }
    let endpoint = json!({
        "IPAMConfig": if ipam.is_empty() { Value::Null } else { Value::Object(ipam) },
        "Links": null,
        "Aliases": list(&f.network_alias),
        "MacAddress": or_empty(&f.mac_address),
    });
    Ok(json!({"EndpointsConfig": {network: endpoint}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    #[command(disable_help_flag = true)]
    struct T {
        #[command(flatten)]
        f: ContainerFlags,
    }

    fn body(args: &[&str]) -> Value {
        let mut argv = vec!["t"];
        argv.extend_from_slice(args);
        let t = T::try_parse_from(argv).unwrap();
        let a = t.f.attach_streams(false).unwrap();
        build(&t.f, "busybox", &[], a, None).unwrap()
    }

    #[test]
    fn healthcheck_flags_as_docker_sends_them() {
        let b = body(&[
            "--health-cmd",
            "true",
            "--health-interval",
            "1m30s",
            "--health-retries",
            "2",
        ]);
        assert_eq!(
            b["Healthcheck"],
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 90_000_000_000i64, "Timeout": 0,
                   "StartPeriod": 0, "StartInterval": 0, "Retries": 2})
        );
        assert_eq!(
            body(&["--no-healthcheck"])["Healthcheck"],
            json!({"Test": ["NONE"]})
        );
        assert!(body(&[]).get("Healthcheck").is_none());
        let t = T::try_parse_from(["t", "--no-healthcheck", "--health-cmd", "x"]).unwrap();
        let a = t.f.attach_streams(false).unwrap();
        let e = build(&t.f, "busybox", &[], a, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--no-healthcheck conflicts with --health-* options"),
            "{e}"
        );
    }

    #[test]
    fn ports() {
        let b = body(&[
            "-p",
            "127.0.0.1:8080:80/udp",
            "-p",
            "9000-9001:90-91",
            "-p",
            "5000",
        ]);
        assert_eq!(
            b["ExposedPorts"],
            json!({"5000/tcp": {}, "80/udp": {}, "90/tcp": {}, "91/tcp": {}})
        );
        assert_eq!(
            b["HostConfig"]["PortBindings"],
            json!({
                "5000/tcp": [{"HostIp": "", "HostPort": ""}],
                "80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                "90/tcp": [{"HostIp": "", "HostPort": "9000"}],
                "91/tcp": [{"HostIp": "", "HostPort": "9001"}],
            })
        );
    }

    #[test]
    fn resources() {
        let b = body(&[
            "-m",
            "32m",
            "--cpus",
            "1.5",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "100",
            "--cpuset-cpus",
            "0-1",
            "--cpu-quota",
            "50000",
            "--cpu-period",
            "100000",
        ]);
        let h = &b["HostConfig"];
        assert_eq!(h["Memory"], 33554432);
        assert_eq!(h["NanoCpus"], 1500000000i64);
        assert_eq!(h["CpuShares"], 512);
        assert_eq!(h["PidsLimit"], 100);
        assert_eq!(h["CpusetCpus"], "0-1");
        assert_eq!(h["CpuQuota"], 50000);
        assert_eq!(h["CpuPeriod"], 100000);
    }

    #[test]
    fn volumes_and_mounts() {
        let b = body(&[
            "-v",
            "data:/d:ro",
            "-v",
            "/h:/c",
            "-v",
            "/anon",
            "--mount",
            "type=tmpfs,target=/t",
        ]);
        assert_eq!(b["HostConfig"]["Binds"], json!(["data:/d:ro", "/h:/c"]));
        assert_eq!(b["Volumes"], json!({"/anon": {}}));
        assert_eq!(
            b["HostConfig"]["Mounts"],
            json!([{"Type": "tmpfs", "Target": "/t"}])
        );
        let plain = body(&[]);
        assert_eq!(plain["HostConfig"]["Binds"], Value::Null);
        assert!(plain["HostConfig"].get("Mounts").is_none());
    }

    #[test]
    fn everything_else() {
        let b = body(&[
            "-e",
            "A=1",
            "-e",
            "BERTH_SURELY_UNSET_VAR",
            "-l",
            "x=y",
            "--restart",
            "on-failure:3",
            "--network",
            "mynet",
            "--ip",
            "10.0.0.5",
            "--network-alias",
            "al",
            "--mac-address",
            "02:42:ac:11:00:02",
            "--add-host",
            "h:1.2.3.4",
            "--dns",
            "8.8.8.8",
            "--cap-add",
            "net_admin",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--read-only",
            "-w",
            "/w",
            "-u",
            "1000",
            "-h",
            "myhost",
            "--entrypoint",
            "/bin/sh",
            "-P",
            "-i",
            "-t",
        ]);
        assert_eq!(b["Env"], json!(["A=1", "BERTH_SURELY_UNSET_VAR"]));
        assert_eq!(b["Labels"], json!({"x": "y"}));
        assert_eq!(b["Hostname"], "myhost");
        assert_eq!(b["User"], "1000");
        assert_eq!(b["WorkingDir"], "/w");
        assert_eq!(b["Entrypoint"], json!(["/bin/sh"]));
        assert_eq!(b["Tty"], true);
        assert_eq!(b["OpenStdin"], true);
        assert_eq!(b["StdinOnce"], true);
        assert_eq!(b["AttachStdin"], true);
        let h = &b["HostConfig"];
        assert_eq!(
            h["RestartPolicy"],
            json!({"Name": "on-failure", "MaximumRetryCount": 3})
        );
        assert_eq!(h["NetworkMode"], "mynet");
        assert_eq!(h["ExtraHosts"], json!(["h:1.2.3.4"]));
        assert_eq!(h["Dns"], json!(["8.8.8.8"]));
        assert_eq!(h["CapAdd"], json!(["CAP_NET_ADMIN"]));
        assert_eq!(h["CapDrop"], json!(["ALL"]));
        assert_eq!(h["SecurityOpt"], json!(["no-new-privileges"]));
        assert_eq!(h["ReadonlyRootfs"], true);
        assert_eq!(h["PublishAllPorts"], true);
        assert_eq!(
            b["NetworkingConfig"]["EndpointsConfig"]["mynet"],
            json!({"IPAMConfig": {"IPv4Address": "10.0.0.5"}, "Links": null, "Aliases": ["al"], "MacAddress": "02:42:ac:11:00:02"})
        );
    }

    #[test]
    fn defaults_like_docker() {
        let b = body(&["--rm"]);
        assert_eq!(b["HostConfig"]["NetworkMode"], "default");
        assert_eq!(
            b["HostConfig"]["RestartPolicy"],
            json!({"Name": "no", "MaximumRetryCount": 0})
        );
        assert_eq!(b["HostConfig"]["AutoRemove"], true);
        assert_eq!(b["Cmd"], Value::Null);
        assert_eq!(b["AttachStdout"], true);
        assert_eq!(b["AttachStdin"], false);
        assert!(b["NetworkingConfig"]["EndpointsConfig"]["default"].is_object());
    }

    #[test]
    fn conflicts_and_bad_values() {
        let t = T::try_parse_from(["t", "--rm", "--restart", "always"]).unwrap();
        assert!(build(&t.f, "x", &[], Attach::default(), None).is_err());
        let t = T::try_parse_from(["t", "-m", "lots"]).unwrap();
        let e = build(&t.f, "x", &[], Attach::default(), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'"
        );
        let t = T::try_parse_from(["t", "-a", "stdout"]).unwrap();
        assert!(t.f.attach_streams(true).is_err());
        assert_eq!(
            t.f.attach_streams(false).unwrap(),
            Attach {
                stdin: false,
                stdout: true,
                stderr: false
            }
        );
    }
}
