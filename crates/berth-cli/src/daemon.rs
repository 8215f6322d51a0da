//! Finding the daemon: the host string, and starting `berth daemon` ourselves when nobody
//! answers on the default socket.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::http::Client;

/// The daemon's socket when neither `-H` nor `BERTH_HOST` names one.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";
/// Where a daemon we start writes its output.
pub const DAEMON_LOG: &str = "/run/berth/daemon.log";
const START_WAIT: Duration = Duration::from_secs(5);

/// The socket path in `unix:///path`.
pub fn socket_path(host: &str) -> Result<PathBuf> {
    match host.strip_prefix("unix://") {
        Some(p) if p.starts_with('/') => Ok(PathBuf::from(p)),
        Some(_) => Err(Error::usage(format!(
            "invalid host {host:?}: the socket path must be absolute (unix:///path)"
        ))),
        None => Err(Error::usage(format!(
            "unsupported host {host:?}: berth speaks to its daemon on a unix socket (unix:///path)"
        ))),
    }
}

/// True when a connect error means "no daemon there" (no socket file, or nobody listening).
pub fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

/// Starts `<current exe> daemon` detached (own session, output to the log file) and waits up
/// to 5 s for `/_ping`.
pub fn start(client: &Client) -> Result<()> {
    let exe = std::env::current_exe()?;
    let log_path = Path::new(DAEMON_LOG);
    if let Some(dir) = log_path.parent() {
        fs::create_dir_all(dir)?;
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)?;
    let mut cmd = Command::new(exe);
    cmd.arg("daemon")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: the closure runs in the forked child before exec and only calls setsid(2),
    // which is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()?;
    eprintln!("berth: started the daemon ({})", client.host());
    let deadline = Instant::now() + START_WAIT;
    while Instant::now() < deadline {
        if client.ping_once() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err(Error::msg(format!(
        "the daemon did not answer on {} within 5s (see {DAEMON_LOG})",
        client.host()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_paths() {
        assert_eq!(
            socket_path(DEFAULT_HOST).unwrap(),
            PathBuf::from("/run/berth/berth.sock")
        );
        assert!(socket_path("tcp://1.2.3.4:2375").is_err());
        assert!(socket_path("unix://rel").is_err());
    }
}
