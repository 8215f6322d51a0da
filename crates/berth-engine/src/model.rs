//! The Docker Engine API's container-create body (Config, HostConfig, NetworkingConfig), as
//! the engine takes and stores it. Field names are docker's; unknown fields are ignored and
//! null reads as absent, as dockerd does.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A string or a list of strings (docker's `strslice`: `"sh -c x"` or `["sh","-c","x"]`).
fn strslice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum S {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<S>::deserialize(d)? {
        None => None,
        Some(S::One(s)) => Some(vec![s]),
        Some(S::Many(v)) => Some(v),
    })
}

/// The part of the create body docker calls `Config`, and what `inspect` shows as `.Config`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "strslice")]
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: String,
    #[serde(deserialize_with = "strslice")]
    pub entrypoint: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `HEALTHCHECK` / `--health-*` (durations in nanoseconds, as docker sends them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
}

/// docker's `HealthConfig`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`; empty: the image's.
    pub test: Option<Vec<String>>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub start_interval: i64,
    pub retries: i64,
}

/// `HostConfig`: how the container is run on this host.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    pub mounts: Option<Vec<Mount>>,
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    pub publish_all_ports: bool,
    pub network_mode: String,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub readonly_rootfs: bool,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub security_opt: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub dns: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub privileged: bool,
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub log_config: LogConfig,
    pub init: Option<bool>,
    pub oom_kill_disable: Option<bool>,
    pub shm_size: i64,
    /// `--cgroup-parent`: the container's cgroup is `<this>/<id>` (empty: the daemon's).
    pub cgroup_parent: String,
    /// `--volumes-from container[:ro|:rw]`: that container's volumes and binds too.
    pub volumes_from: Option<Vec<String>>,
    /// `--blkio-weight` (10-1000; 0: unset) and the per-device weights and throttles.
    pub blkio_weight: u16,
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    /// `--ulimit`: the process's rlimits.
    pub ulimits: Option<Vec<Ulimit>>,
    /// `--sysctl`: namespaced kernel parameters.
    pub sysctls: Option<BTreeMap<String, String>>,
    /// `--oom-score-adj`.
    pub oom_score_adj: i64,
    /// `--group-add`: more groups, by number or by name in the image's /etc/group.
    pub group_add: Option<Vec<String>>,
    /// `--device`: host device nodes made in the container and allowed by its cgroup.
    pub devices: Option<Vec<DeviceMapping>>,
    /// `--pid`: "" (a namespace of its own), `host`, `container:<name>`.
    pub pid_mode: String,
    /// `--ipc`: "", `private`, `shareable`, `none`, `host`, `container:<name>`.
    pub ipc_mode: String,
    /// `--uts`: "" or `host`.
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    /// `--userns`: "" or `host` (no remapping).
    pub userns_mode: String,
    /// `--cgroupns`: "" or `private` (a cgroup namespace of its own), `host`.
    pub cgroupns_mode: String,
    /// Options berth has no means for, refused at create rather than dropped: `--runtime`
    /// (berth's own is the one), `--storage-opt`, `--volume-driver`, `--gpus`.
    pub runtime: String,
    pub storage_opt: Option<BTreeMap<String, String>>,
    pub volume_driver: String,
    pub device_requests: Option<Vec<serde_json::Value>>,
}

/// `--blkio-weight-device /dev/sda:200`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// `--device-read-bps /dev/sda:1mb` and the like.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// One `--ulimit`: `nofile=1024:2048`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// One `--device HOST[:CONTAINER[:PERMISSIONS]]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub typ: String,
    pub config: Option<BTreeMap<String, String>>,
}

/// `--mount`: `{"Type":"bind","Source":"/x","Target":"/y","ReadOnly":true}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    #[serde(rename = "Type")]
    pub typ: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub volume_options: Option<VolumeOptions>,
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// `Mounts[].TmpfsOptions` (`--mount type=tmpfs,tmpfs-size=64m,tmpfs-mode=1770`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    pub size_bytes: i64,
    /// The mode bits (docker sends them as a number).
    pub mode: u32,
}

/// `Mounts[].VolumeOptions` (`--mount type=volume,volume-nocopy`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    pub no_copy: bool,
}

/// `NetworkingConfig.EndpointsConfig[net]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpam>,
    pub aliases: Option<Vec<String>>,
    pub mac_address: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpam {
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: Option<BTreeMap<String, EndpointSettings>>,
}

/// The whole `POST /containers/create` body.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    #[serde(flatten)]
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub networking_config: NetworkingConfig,
}
