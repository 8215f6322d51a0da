//! A container's durable record: what was asked (config, host config), what it became
//! (image id, network attachment, mounts) and its state, as `inspect` shows it.

use crate::model::{ContainerConfig, HostConfig, NetworkingConfig};
use serde::{Deserialize, Serialize};

/// Where a container is in its life. `Creating` and `Starting` are written before the
/// side effects they guard, so a daemon killed midway knows what to undo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    #[default]
    Created,
    Starting,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    /// docker's `State.Status` word.
    pub fn docker(self) -> &'static str {
        match self {
            Status::Creating | Status::Created => "created",
            Status::Starting | Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
    /// Whether a container process exists (or is being made).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Status::Starting | Status::Running | Status::Paused | Status::Restarting
        )
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    pub oom_killed: bool,
    /// Stopped or killed by the user: restart policies leave it alone.
    pub manually_stopped: bool,
    /// The healthcheck's state, when the container has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::Health>,
}

/// A published port as bound: `-P` ports have their host port chosen.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Published {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: String,
}

/// The container's place on a bridge network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetAttach {
    pub network: String,
    /// The interface inside the container: eth0, eth1, … in the order of attachment.
    #[serde(default)]
    pub interface: String,
    pub network_id: String,
    pub ip: String,
    pub prefix: u8,
    pub gateway: String,
    pub mac: String,
    pub aliases: Vec<String>,
    /// On a dual-stack network: the IPv6 address, its prefix length and the gateway.
    #[serde(default)]
    pub ip6: String,
    #[serde(default)]
    pub prefix6: u8,
    #[serde(default)]
    pub gateway6: String,
}

/// A mount as resolved at create time (`inspect` `.Mounts`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MountPoint {
    /// bind, volume or tmpfs
    pub typ: String,
    /// Volume name (volume mounts).
    pub name: String,
    /// Host path (bind and volume mounts).
    pub source: String,
    pub destination: String,
    pub rw: bool,
    /// A volume made for this container alone (image VOLUME, `-v /path`), removed by `rm -v`.
    pub anonymous: bool,
    /// `nocopy`: an empty volume is not filled from the image at the first start.
    #[serde(default)]
    pub no_copy: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image: String,
    /// The image id (config digest).
    pub image_id: String,
    /// The merged config (image defaults under the user's choices).
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub networking: NetworkingConfig,
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    pub restart_count: u32,
    pub mounts: Vec<MountPoint>,
    /// `--tmpfs` and `--mount type=tmpfs`: destination and options.
    #[serde(default)]
    pub tmpfs: Vec<(String, String)>,
    /// The image's manifest, so a start reads it directly instead of searching by id.
    #[serde(default)]
    pub image_manifest: String,
    /// The bridge networks the container is on while it runs; the first carries `ports`.
    #[serde(default)]
    pub nets: Vec<NetAttach>,
    pub ports: Vec<Published>,
}

impl ContainerRecord {
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
    /// Each network attachment with the ports published through it (the first carries them
    /// all; later networks none).
    pub fn attachments(&self) -> impl Iterator<Item = (&NetAttach, &[Published])> {
        self.nets.iter().enumerate().map(|(i, a)| {
            let ports: &[Published] = if i == 0 { &self.ports } else { &[] };
            (a, ports)
        })
    }

    /// The network mode with docker's `default` spelled out.
    pub fn network_mode(&self) -> &str {
        match self.host_config.network_mode.as_str() {
            "" | "default" => "bridge",
            m => m,
        }
    }
}

/// A fresh 64-hex-digit id.
pub fn new_id() -> String {
    let mut buf = [0u8; 32];
    // getrandom(2) without flags blocks only before the pool is initialised at boot.
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

const ADJECTIVES: [&str; 16] = [
    "brave", "calm", "eager", "fond", "gentle", "happy", "keen", "lucid", "merry", "nifty",
    "proud", "quiet", "sharp", "tender", "vivid", "witty",
];
const NOUNS: [&str; 16] = [
    "babbage", "curie", "darwin", "euler", "fermi", "gauss", "hopper", "kepler", "lovelace",
    "meitner", "noether", "pascal", "ritchie", "shannon", "turing", "wozniak",
];

/// A docker-style random name, `adjective_scientist`, from the id's bytes.
pub fn random_name(id: &str, attempt: u32) -> String {
    let b = id.as_bytes();
    let a = ADJECTIVES[(b[0] as usize + attempt as usize) % ADJECTIVES.len()];
    let n = NOUNS[(b[1] as usize * 7 + b[2] as usize) % NOUNS.len()];
    if attempt == 0 {
        format!("{a}_{n}")
    } else {
        format!("{a}_{n}{attempt}")
    }
}

/// docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}
