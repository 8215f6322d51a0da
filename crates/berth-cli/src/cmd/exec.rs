//! `exec` and `attach`: hijacked connections to a running container, with tty raw mode,
//! resizing and exit codes.

use std::thread;

use clap::{ArgAction, Args};
use serde_json::{json, Value};

use super::run::{resize, watch_signals};
use super::{cpath, inspect_container};
use crate::error::{Error, Result};
use crate::hijack::{self, Ended};
use crate::http::{enc_path, query, Client};
use crate::opts;
use crate::output::outln;
use crate::term;

/// `exec [OPTIONS] CONTAINER COMMAND [ARG...]`
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// The container, then the command and its arguments
    #[arg(value_name = "CONTAINER COMMAND [ARG...]", required = true, num_args = 2.., trailing_var_arg = true)]
    pub args: Vec<String>,
}

/// `attach [OPTIONS] CONTAINER`
#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub sig_proxy: bool,
    pub container: String,
}

/// The body of `POST /containers/{id}/exec`.
pub fn exec_body(a: &ExecArgs, console: Option<(u16, u16)>) -> Result<Value> {
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(opts::read_env_file(f)?);
    }
    env.extend(a.env.iter().map(|e| opts::env_var(e)));
    let mut body = json!({
        "User": a.user.clone().unwrap_or_default(),
        "Privileged": a.privileged,
        "Tty": a.tty,
        "AttachStdin": a.interactive && !a.detach,
        "AttachStderr": !a.detach,
        "AttachStdout": !a.detach,
        "Detach": a.detach,
        "DetachKeys": "",
        "Env": if env.is_empty() { Value::Null } else { json!(env) },
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
        "Cmd": a.args[1..],
    });
    if let (true, Some((h, w))) = (a.tty, console) {
        body["ConsoleSize"] = json!([h, w]);
    }
    Ok(body)
}

/// `berth exec`: exits with the command's exit code.
pub fn exec(client: &Client, a: &ExecArgs) -> Result<i32> {
    let container = &a.args[0];
    let stdin = a.interactive && !a.detach;
    if a.tty && stdin && !term::stdin_is_tty() {
        return Err(Error::msg("the input device is not a TTY"));
    }
    let console = if a.tty { term::size() } else { None };
    let created = client.post_json(
        &format!("{}/exec", cpath(container)),
        Some(&exec_body(a, console)?),
    )?;
    let id = super::s(&created, "Id").to_string();
    let start_path = format!("/exec/{}/start", enc_path(&id));
    if a.detach {
        client
            .req("POST", &start_path)
            .json(&json!({"Detach": true, "Tty": a.tty}))?
            .call()?
            .drain()?;
        return Ok(0);
    }
    watch_signals(client, &id, a.tty, false, "exec")?;
    let mut start = json!({"Detach": false, "Tty": a.tty});
    if let (true, Some((h, w))) = (a.tty, console) {
        start["ConsoleSize"] = json!([h, w]);
    }
    let h = client.req("POST", &start_path).json(&start)?.hijack()?;
    if a.tty {
        resize(client, "exec", &id);
    }
    let raw = if a.tty && stdin {
        term::RawMode::enter()?
    } else {
        None
    };
    let ended = hijack::pump(h, a.tty, stdin);
    drop(raw);
    if ended? == Ended::Detached {
        return Ok(0);
    }
    let info = client.get_json(&format!("/exec/{}/json", enc_path(&id)))?;
    Ok(super::i(&info, "ExitCode") as i32)
}

/// `berth attach`: exits with the container's exit code once it stops.
pub fn attach(client: &Client, a: &AttachArgs) -> Result<i32> {
    let info = inspect_container(client, &a.container)?;
    let state = &info["State"];
    if !state["Running"].as_bool().unwrap_or(false) {
        return Err(Error::msg(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if state["Paused"].as_bool().unwrap_or(false) {
        return Err(Error::msg(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    let id = super::s(&info, "Id").to_string();
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !a.no_stdin && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    if tty && stdin && !term::stdin_is_tty() {
        return Err(Error::msg("the input device is not a TTY"));
    }
    watch_signals(client, &id, tty, a.sig_proxy, "containers")?;
    let waiter = client
        .req("POST", &format!("{}/wait", cpath(&id)))
        .start()?;
    let waiting =
        thread::spawn(move || -> Result<Value> { waiter.finish()?.error_for_status()?.json() });
    let q = query(&[
        ("stream", "1".into()),
        ("stdin", if stdin { "1" } else { "0" }.into()),
        ("stdout", "1".into()),
        ("stderr", "1".into()),
    ]);
    let h = client
        .req("POST", &format!("{}/attach{q}", cpath(&id)))
        .hijack()?;
    if tty {
        resize(client, "containers", &id);
    }
    let raw = if tty && stdin {
        term::RawMode::enter()?
    } else {
        None
    };
    let ended = hijack::pump(h, tty, stdin);
    drop(raw);
    if ended? == Ended::Detached {
        outln("")?;
        return Ok(0);
    }
    let status = waiting
        .join()
        .map_err(|_| Error::msg("the wait thread failed"))??;
    Ok(super::i(&status, "StatusCode") as i32)
}
