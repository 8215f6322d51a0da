//! Running the `berth-shim` binary: build its command line, reap the first process (the shim
//! forks at once), and read its readiness line.

use crate::error::{Context, Error, Result};
use crate::protocol::Ready;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What `berth-shim start` is asked to do.
#[derive(Debug, Clone)]
pub struct StartOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub runtime_root: PathBuf,
    /// The shim's state directory (socket, log, exit record).
    pub dir: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    pub log_max_size: Option<u64>,
    pub log_max_file: Option<u32>,
    pub shim_binary: PathBuf,
}

/// What `berth-shim exec` is asked to do.
#[derive(Debug, Clone)]
pub struct ExecOpts {
    pub id: String,
    pub runtime_root: PathBuf,
    pub dir: PathBuf,
    /// A JSON file holding the OCI `Process` to run.
    pub process_file: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    pub shim_binary: PathBuf,
}

/// The shim binary: `$BERTH_SHIM` if set, else `berth-shim` next to the running executable.
pub fn default_shim_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_SHIM").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("berth-shim")))
        .unwrap_or_else(|| PathBuf::from("berth-shim"))
}

/// Start a shim that creates the container (left in the *created* state); its init's pid.
pub fn spawn_start(o: &StartOpts) -> Result<i32> {
    let mut args: Vec<OsString> = vec!["start".into()];
    push(&mut args, "--id", &o.id);
    push(&mut args, "--bundle", &o.bundle);
    push(&mut args, "--runtime-root", &o.runtime_root);
    push(&mut args, "--dir", &o.dir);
    flag(&mut args, "--tty", o.tty);
    flag(&mut args, "--stdin", o.stdin);
    if let Some(n) = o.log_max_size {
        push(&mut args, "--log-max-size", n.to_string());
    }
    if let Some(n) = o.log_max_file {
        push(&mut args, "--log-max-file", n.to_string());
    }
    run(&o.shim_binary, args)
}

/// Start a shim that runs a process in a running container; the process's pid.
pub fn spawn_exec(o: &ExecOpts) -> Result<i32> {
    let mut args: Vec<OsString> = vec!["exec".into()];
    push(&mut args, "--id", &o.id);
    push(&mut args, "--runtime-root", &o.runtime_root);
    push(&mut args, "--dir", &o.dir);
    push(&mut args, "--process", &o.process_file);
    flag(&mut args, "--tty", o.tty);
    flag(&mut args, "--stdin", o.stdin);
    run(&o.shim_binary, args)
}

fn push(args: &mut Vec<OsString>, name: &str, value: impl Into<OsString>) {
    args.push(name.into());
    args.push(value.into());
}

fn flag(args: &mut Vec<OsString>, name: &str, on: bool) {
    if on {
        args.push(name.into());
    }
}

/// Run the binary, reap its first process, and read the second one's readiness line. The
/// line is read up to its newline, not to EOF: a created init still holds a copy of the pipe
/// until it execs.
fn run(bin: &Path, args: Vec<OsString>) -> Result<i32> {
    let mut child = Command::new(bin)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ctx(|| format!("running {}", bin.display()))?;
    let stdout = child.stdout.take();
    let status = child
        .wait()
        .ctx(|| format!("waiting for {}", bin.display()))?;
    let mut line = String::new();
    if let Some(out) = stdout {
        BufReader::new(out)
            .read_line(&mut line)
            .ctx(|| "reading the shim's readiness line")?;
    }
    if line.trim().is_empty() {
        return Err(Error::Shim(format!(
            "{} exited ({status}) without a readiness line",
            bin.display()
        )));
    }
    let ready: Ready = serde_json::from_str(line.trim())
        .map_err(|e| Error::Protocol(format!("readiness line {:?}: {e}", line.trim())))?;
    ready.into_result()
}
