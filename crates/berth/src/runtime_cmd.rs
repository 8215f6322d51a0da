//! `berth runtime`: runc's command line over the berth-runtime library.

use anyhow::{bail, Context, Result};
use berth_runtime::{lifecycle, Container, CreateOpts, ExecOpts};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct RuntimeArgs {
    /// Root directory for container state
    #[arg(long, global = true, default_value = berth_runtime::DEFAULT_ROOT)]
    root: PathBuf,
    /// Log file for errors (runc's --log)
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long, global = true, default_value = "text")]
    log_format: String,
    /// Accepted for runc compatibility
    #[arg(long, global = true)]
    debug: bool,
    /// Accepted for runc compatibility (cgroupfs is always used)
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a container, leaving its process waiting for `start`
    Create(CreateArgs),
    /// Start the process of a created container
    Start { id: String },
    /// Print a container's state as JSON
    State { id: String },
    /// Send a signal to a container's init (or, with --all, to all its processes)
    Kill {
        #[arg(long, short)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container
    Delete {
        #[arg(long, short)]
        force: bool,
        id: String,
    },
    /// Create and start a container; wait for it unless --detach
    Run {
        #[arg(long, short)]
        detach: bool,
        #[command(flatten)]
        create: CreateArgs,
    },
    /// Run a new process in a running container
    Exec {
        #[arg(long, short)]
        process: Option<PathBuf>,
        #[arg(long, short)]
        tty: bool,
        #[arg(long, short)]
        detach: bool,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        console_socket: Option<PathBuf>,
        #[arg(long)]
        cwd: Option<String>,
        #[arg(long, short)]
        env: Vec<String>,
        #[arg(long, short)]
        user: Option<String>,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// List containers
    List {
        #[arg(long, short, default_value = "table")]
        format: String,
        #[arg(long, short)]
        quiet: bool,
    },
    /// List the processes of a container
    Ps {
        #[arg(long, short, default_value = "table")]
        format: String,
        id: String,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Change a container's resource limits
    Update(UpdateArgs),
    /// Print container events (resource stats)
    Events {
        #[arg(long)]
        stats: bool,
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Write a default config.json
    Spec {
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
}

/// The flags `create` and `run` share (runc's).
#[derive(Args)]
struct CreateArgs {
    #[arg(long, short, default_value = ".")]
    bundle: PathBuf,
    #[arg(long)]
    pid_file: Option<PathBuf>,
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Accepted for runc compatibility (berth always uses pivot_root)
    #[arg(long)]
    no_pivot: bool,
    /// Accepted for runc compatibility
    #[arg(long)]
    no_new_keyring: bool,
    id: String,
}

impl CreateArgs {
    fn run<T>(
        &self,
        root: &Path,
        f: impl FnOnce(&CreateOpts) -> berth_runtime::Result<T>,
    ) -> Result<T> {
        let bundle = lifecycle::bundle_path(&self.bundle);
        Ok(f(&CreateOpts {
            root,
            id: &self.id,
            bundle: &bundle,
            pid_file: self.pid_file.as_deref(),
            console_socket: self.console_socket.as_deref(),
        })?)
    }
}

#[derive(Args)]
struct UpdateArgs {
    /// JSON file with a linux.resources object ("-" for stdin)
    #[arg(long, short)]
    resources: Option<PathBuf>,
    #[arg(long)]
    memory: Option<String>,
    #[arg(long)]
    memory_reservation: Option<String>,
    #[arg(long)]
    memory_swap: Option<String>,
    #[arg(long)]
    cpu_shares: Option<u64>,
    #[arg(long)]
    cpu_quota: Option<i64>,
    #[arg(long)]
    cpu_period: Option<u64>,
    #[arg(long)]
    cpuset_cpus: Option<String>,
    #[arg(long)]
    cpuset_mems: Option<String>,
    #[arg(long)]
    pids_limit: Option<i64>,
    #[arg(long)]
    blkio_weight: Option<u16>,
    id: String,
}

/// Run the command; the process exit code.
pub fn main(args: RuntimeArgs) -> i32 {
    match dispatch(&args) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}");
            log_error(&args, &msg);
            eprintln!("berth runtime: {msg}");
            // runc's exit code when exec itself fails (not the process), so callers can tell.
            if matches!(args.cmd, Cmd::Exec { .. }) {
                255
            } else {
                1
            }
        }
    }
}

fn log_error(args: &RuntimeArgs, msg: &str) {
    let Some(path) = &args.log else { return };
    let line = if args.log_format == "json" {
        serde_json::json!({ "level": "error", "msg": msg, "time": berth_runtime::state::now_rfc3339() })
            .to_string()
    } else {
        format!("level=error msg={msg:?}")
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

fn dispatch(a: &RuntimeArgs) -> Result<i32> {
    let root = a.root.as_path();
    match &a.cmd {
        Cmd::Create(c) => {
            c.run(root, berth_runtime::create)?;
        }
        Cmd::Start { id } => Container::load(root, id)?.start()?,
        Cmd::State { id } => {
            let st = Container::load(root, id)?.public();
            println!("{}", serde_json::to_string_pretty(&st)?);
        }
        Cmd::Kill { all, id, signal } => {
            let sig = berth_runtime::parse_signal(signal)?;
            Container::load(root, id)?.kill(sig, *all)?;
        }
        Cmd::Delete { force, id } => match Container::load(root, id) {
            Err(berth_runtime::Error::NotFound(_)) if *force => {}
            c => c?.delete(*force)?,
        },
        Cmd::Run { detach, create } => {
            return create.run(root, |o| berth_runtime::run(o, *detach));
        }
        Cmd::Exec {
            process,
            tty,
            detach,
            pid_file,
            console_socket,
            cwd,
            env,
            user,
            id,
            args,
        } => {
            let c = Container::load(root, id)?;
            let process = match process {
                Some(p) => {
                    let text = read_input(p)?;
                    serde_json::from_slice(&text)
                        .with_context(|| format!("parsing process file {}", p.display()))?
                }
                None => {
                    if args.is_empty() {
                        bail!("exec: give a command or --process FILE");
                    }
                    berth_runtime::exec::process_from_args(
                        &c,
                        args.clone(),
                        env,
                        cwd.as_deref(),
                        user.as_deref(),
                        *tty,
                    )?
                }
            };
            return Ok(berth_runtime::exec(
                &c,
                ExecOpts {
                    process,
                    console_socket: console_socket.as_deref(),
                    detach: *detach,
                    pid_file: pid_file.as_deref(),
                },
            )?);
        }
        Cmd::List { format, quiet } => list(root, format, *quiet)?,
        Cmd::Ps { format, id } => ps(&Container::load(root, id)?, format)?,
        Cmd::Pause { id } => Container::load(root, id)?.pause()?,
        Cmd::Resume { id } => Container::load(root, id)?.resume()?,
        Cmd::Update(u) => update(root, u)?,
        Cmd::Events {
            stats,
            interval,
            id,
        } => events(root, id, *stats, interval)?,
        Cmd::Spec { bundle, rootless } => {
            let path = bundle.join("config.json");
            if path.exists() {
                bail!("File {} exists. Remove it first", path.display());
            }
            let spec = berth_runtime::spec::default_spec(*rootless);
            std::fs::write(&path, serde_json::to_string_pretty(&spec)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(0)
}

fn read_input(p: &Path) -> Result<Vec<u8>> {
    if p == Path::new("-") {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)?;
        return Ok(v);
    }
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

fn list(root: &Path, format: &str, quiet: bool) -> Result<()> {
    let all = berth_runtime::list(root)?;
    if quiet {
        for c in &all {
            println!("{}", c.rec.id);
        }
        return Ok(());
    }
    match format {
        "json" => {
            let v: Vec<_> = all.iter().map(|c| c.public()).collect();
            println!("{}", serde_json::to_string(&v)?);
        }
        "table" => {
            println!(
                "{:<12} {:<10} {:<10} {:<40} {:<31} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for c in &all {
                let s = c.public();
                println!(
                    "{:<12} {:<10} {:<10} {:<40} {:<31} root",
                    s.id,
                    s.pid,
                    s.status,
                    s.bundle.display(),
                    s.created
                );
            }
        }
        f => bail!("invalid format {f:?}: use table or json"),
    }
    Ok(())
}

fn ps(c: &Container, format: &str) -> Result<()> {
    let pids = c.pids()?;
    match format {
        "json" => println!("{}", serde_json::to_string(&pids)?),
        "table" => {
            println!("{:<8} CMD", "PID");
            for pid in pids {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmd: Vec<String> = cmd
                    .split(|b| *b == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                println!("{:<8} {}", pid, cmd.join(" "));
            }
        }
        f => bail!("invalid format {f:?}: use table or json"),
    }
    Ok(())
}

/// Parse a size like runc: plain bytes or with a k/m/g suffix; "-1" is unlimited.
fn parse_size(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: i64 = num.parse().with_context(|| format!("invalid size {s:?}"))?;
    Ok(if n < 0 { -1 } else { n * mult })
}

fn update(root: &Path, u: &UpdateArgs) -> Result<()> {
    use oci_res::*;
    let mut c = Container::load(root, &u.id)?;
    let mut r: LinuxResources = match &u.resources {
        Some(p) => serde_json::from_slice(&read_input(p)?).context("parsing the resources JSON")?,
        None => c
            .rec
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().clone())
            .unwrap_or_default(),
    };
    let mut mem = r.memory().unwrap_or_default();
    if let Some(m) = &u.memory {
        mem.set_limit(Some(parse_size(m)?));
    }
    if let Some(m) = &u.memory_reservation {
        mem.set_reservation(Some(parse_size(m)?));
    }
    if let Some(m) = &u.memory_swap {
        mem.set_swap(Some(parse_size(m)?));
    }
    r.set_memory(Some(mem));
    let mut cpu = r.cpu().clone().unwrap_or_default();
    if u.cpu_shares.is_some() {
        cpu.set_shares(u.cpu_shares);
    }
    if u.cpu_quota.is_some() {
        cpu.set_quota(u.cpu_quota);
    }
    if u.cpu_period.is_some() {
        cpu.set_period(u.cpu_period);
    }
    if u.cpuset_cpus.is_some() {
        cpu.set_cpus(u.cpuset_cpus.clone());
    }
    if u.cpuset_mems.is_some() {
        cpu.set_mems(u.cpuset_mems.clone());
    }
    r.set_cpu(Some(cpu));
    if let Some(p) = u.pids_limit {
        let mut pids = LinuxPids::default();
        pids.set_limit(p);
        r.set_pids(Some(pids));
    }
    if let Some(w) = u.blkio_weight {
        let mut b = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    c.update(&r)?;
    Ok(())
}

mod oci_res {
    pub use berth_runtime::config::oci::{LinuxPids, LinuxResources};
}

fn events(root: &Path, id: &str, once: bool, interval: &str) -> Result<()> {
    let secs: f64 = interval
        .trim_end_matches('s')
        .parse()
        .with_context(|| format!("invalid --interval {interval:?}"))?;
    loop {
        let c = Container::load(root, id)?;
        let data = c.stats()?;
        let ev = serde_json::json!({ "type": "stats", "id": id, "data": data });
        println!("{ev}");
        if once {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.1)));
    }
}
