//! `berth daemon`: dockerd-style flags, the engine, and the Docker Engine API on a unix
//! socket. Containers outlive the daemon (each has its shim); a restart picks them up.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct DaemonArgs {
    /// Persistent state: images, containers, volumes, the state database
    #[arg(long, default_value = "/var/lib/berth")]
    data_root: PathBuf,
    /// Runtime state: the runtime's records, exec shims
    #[arg(long, default_value = "/run/berth")]
    exec_root: PathBuf,
    /// Socket to listen on (unix:///PATH)
    #[arg(
        short = 'H',
        long = "host",
        default_value = "unix:///run/berth/berth.sock"
    )]
    host: String,
    /// The default bridge's address and prefix, e.g. 10.99.0.1/24
    #[arg(long)]
    bip: Option<String>,
    /// Pools for new networks: base=CIDR,size=N (repeatable)
    #[arg(long = "default-address-pool")]
    default_address_pool: Vec<String>,
    /// Registries spoken to over plain HTTP (repeatable)
    #[arg(long = "insecure-registry")]
    insecure_registry: Vec<String>,
    /// Upstream DNS servers for names that are not containers' (default: the host's
    /// resolv.conf).
    #[arg(long = "dns")]
    dns: Vec<String>,
    /// Log level: debug, info, warn, error
    #[arg(long, default_value = "info")]
    log_level: String,
    /// berth's nftables table (tests use their own)
    #[arg(long, default_value = "berth", hide = true)]
    nft_table: String,
    /// The default bridge device
    #[arg(long, default_value = "berth0")]
    bridge: String,
    /// Where containers' cgroups are made (<parent>/<id>), unless a container names its
    /// own. The daemon owns it: on start it removes leftover empty cgroups there.
    #[arg(long = "cgroup-parent", default_value = berth_engine::DEFAULT_CGROUP_PARENT)]
    cgroup_parent: String,
}

fn parse_pool(s: &str) -> anyhow::Result<(String, u8)> {
    let mut base = None;
    let mut size = None;
    for kv in s.split(',') {
        match kv.split_once('=') {
            Some(("base", v)) => base = Some(v.to_string()),
            Some(("size", v)) => {
                size = Some(v.parse::<u8>().context("size must be a prefix length")?)
            }
            _ => anyhow::bail!("invalid --default-address-pool {s:?}: want base=CIDR,size=N"),
        }
    }
    match (base, size) {
        (Some(b), Some(n)) => Ok((b, n)),
        _ => anyhow::bail!("invalid --default-address-pool {s:?}: want base=CIDR,size=N"),
    }
}

pub fn main(args: DaemonArgs) -> anyhow::Result<()> {
    let socket = args
        .host
        .strip_prefix("unix://")
        .map(PathBuf::from)
        .ok_or_else(|| {
            anyhow::anyhow!("-H {}: only unix:///PATH sockets are supported", args.host)
        })?;
    if !matches!(
        args.log_level.as_str(),
        "debug" | "info" | "warn" | "error" | "fatal"
    ) {
        anyhow::bail!("unknown --log-level {:?}", args.log_level);
    }
    let mut cfg = berth_engine::EngineConfig::new(args.data_root, args.exec_root);
    cfg.bip = args.bip;
    cfg.default_pools = args
        .default_address_pool
        .iter()
        .map(|p| parse_pool(p))
        .collect::<anyhow::Result<_>>()?;
    cfg.insecure_registries = args.insecure_registry;
    cfg.dns = args.dns;
    cfg.nft_table = args.nft_table;
    cfg.bridge_name = args.bridge;
    cfg.cgroup_parent = args.cgroup_parent;
    let engine = berth_engine::Engine::open(cfg).context("starting the engine")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let r = rt.block_on(async move {
        let serve = berth_api::serve(engine, &socket);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = serve => r.context("serving the API"),
            _ = term.recv() => Ok(()),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    });
    // Blocked waiters (wait, logs -f, events) must not hold the exit: containers live on
    // in their shims and the next daemon picks them up.
    rt.shutdown_background();
    r
}
