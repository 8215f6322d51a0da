//! `run` and `create`: create the container (pulling a missing image), then for `run` attach,
//! wait, start, stream its output and exit with its status.

use std::fs;
use std::thread;

use clap::{ArgAction, Args};
use nix::sys::signal::Signal;
use serde_json::Value;

use super::create_body::{self, Attach, ContainerFlags};
use super::{cpath, transfer};
use crate::error::{Error, Result};
use crate::hijack::{self, Ended};
use crate::http::{query, Client};
use crate::output::{errln, outln};
use crate::reference;
use crate::term;

/// `berth run [OPTIONS] IMAGE [COMMAND] [ARG...]`
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub flags: ContainerFlags,
    /// The image, then the command and its arguments
    #[arg(value_name = "IMAGE [COMMAND] [ARG...]", required = true, num_args = 1.., trailing_var_arg = true)]
    pub args: Vec<String>,
}

/// `berth create [OPTIONS] IMAGE [COMMAND] [ARG...]`
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    #[command(flatten)]
    pub flags: ContainerFlags,
    /// The image, then the command and its arguments
    #[arg(value_name = "IMAGE [COMMAND] [ARG...]", required = true, num_args = 1.., trailing_var_arg = true)]
    pub args: Vec<String>,
}

/// Prints a `run`/`create` failure as docker does, and the exit status to use.
fn report(cmd: &str, e: Error, code: i32) -> Error {
    match e {
        Error::Exit(c) => Error::Exit(c),
        e => {
            errln(&format!("berth: {e}"));
            errln(&format!("\nRun 'berth {cmd} --help' for more information"));
            Error::Exit(code)
        }
    }
}

/// docker's exit status for a failed start: 127 for a missing command, 126 for one that
/// cannot be run, 125 otherwise.
pub fn start_error_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

/// `berth create`: prints the new container's id.
pub fn create(client: &Client, a: &CreateArgs) -> Result<i32> {
    let (image, cmd) = split_args(&a.args)?;
    let attach = a
        .flags
        .attach_streams(false)
        .map_err(|e| report("create", e, 125))?;
    let id = create_container(client, &a.flags, image, cmd, attach, None)
        .map_err(|e| report("create", e, 125))?;
    outln(&id)?;
    Ok(0)
}

fn split_args(args: &[String]) -> Result<(&str, &[String])> {
    match args.split_first() {
        Some((image, cmd)) => Ok((image.as_str(), cmd)),
        None => Err(Error::usage("requires at least 1 argument")),
    }
}

/// Creates the container, pulling its image first when missing (or with `--pull always`);
/// returns its id.
pub fn create_container(
    client: &Client,
    f: &ContainerFlags,
    image: &str,
    cmd: &[String],
    attach: Attach,
    console: Option<(u16, u16)>,
) -> Result<String> {
    if !matches!(f.pull.as_str(), "always" | "missing" | "never") {
        return Err(Error::usage(format!(
            "invalid pull option: '{}': must be one of \"always\", \"missing\" or \"never\"",
            f.pull
        )));
    }
    let body = create_body::build(f, image, cmd, attach, console)?;
    let mut q = Vec::new();
    if let Some(n) = &f.name {
        q.push(("name", n.clone()));
    }
    if let Some(p) = &f.platform {
        q.push(("platform", p.clone()));
    }
    let path = format!("/containers/create{}", query(&q));
    if f.pull == "always" {
        pull_for_run(client, image, f)?;
    }
    let resp = match client.post_json(&path, Some(&body)) {
        Err(Error::Daemon {
            status: 404,
            message,
        }) if f.pull == "missing" && message.contains("No such image") => {
            let r = reference::parse(image)?.tag_name_only();
            errln(&format!(
                "Unable to find image '{}' locally",
                r.familiar_string()
            ));
            pull_for_run(client, image, f)?;
            client.post_json(&path, Some(&body))?
        }
        other => other?,
    };
    for w in super::strs(&resp, "Warnings") {
        errln(&format!("WARNING: {w}"));
    }
    let id = super::s(&resp, "Id").to_string();
    if id.is_empty() {
        return Err(Error::Protocol("create answered without an Id".into()));
    }
    if let Some(file) = &f.cidfile {
        fs::write(file, &id)?;
    }
    Ok(id)
}

fn pull_for_run(client: &Client, image: &str, f: &ContainerFlags) -> Result<()> {
    let r = reference::parse(image)?.tag_name_only();
    transfer::pull_reference(client, &r, f.platform.as_deref(), f.quiet, true)
}

/// `berth run`.
pub fn run(client: &Client, a: &RunArgs) -> Result<i32> {
    let (image, cmd) = split_args(&a.args).map_err(|e| report("run", e, 125))?;
    let f = &a.flags;
    let attach = f
        .attach_streams(a.detach)
        .map_err(|e| report("run", e, 125))?;
    if f.tty && attach.stdin && !term::stdin_is_tty() {
        return Err(Error::msg("the input device is not a TTY"));
    }
    let console = if f.tty { term::size() } else { None };
    let id = create_container(client, f, image, cmd, attach, console)
        .map_err(|e| report("run", e, 125))?;

    if a.detach {
        start(client, &id)?;
        outln(&id)?;
        return Ok(0);
    }
    watch_signals(client, &id, f.tty, a.sig_proxy, "containers")?;
    let streams = if attach.stdin || attach.stdout || attach.stderr {
        let q = query(&[
            ("stream", "1".into()),
            ("stdin", flag(attach.stdin)),
            ("stdout", flag(attach.stdout)),
            ("stderr", flag(attach.stderr)),
        ]);
        Some(
            client
                .req("POST", &format!("{}/attach{q}", cpath(&id)))
                .start_hijack()
                .map_err(|e| report("run", e, 125))?,
        )
    } else {
        None
    };
    let condition = if f.rm { "removed" } else { "next-exit" };
    let waiter = client
        .req(
            "POST",
            &format!("{}/wait?condition={condition}", cpath(&id)),
        )
        .start()
        .map_err(|e| report("run", e, 125))?;
    let waiting =
        thread::spawn(move || -> Result<Value> { waiter.finish()?.error_for_status()?.json() });
    start(client, &id)?;
    if f.tty {
        resize(client, "containers", &id);
    }
    if let Some(pending) = streams {
        let h = pending.hijacked().map_err(|e| report("run", e, 125))?;
        let raw = if f.tty && attach.stdin {
            term::RawMode::enter()?
        } else {
            None
        };
        let ended = hijack::pump(h, f.tty, attach.stdin);
        drop(raw);
        if ended? == Ended::Detached {
            return Ok(0);
        }
    }
    let status = waiting
        .join()
        .map_err(|_| Error::msg("the wait thread failed"))?
        .map_err(|e| report("run", e, 125))?;
    if let Some(msg) = status
        .get("Error")
        .and_then(|e| e.get("Message"))
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
    {
        return Err(report("run", Error::msg(msg), 125));
    }
    Ok(super::i(&status, "StatusCode") as i32)
}

fn flag(b: bool) -> String {
    if b { "1" } else { "0" }.into()
}

/// `POST /containers/{id}/start`, with docker's exit statuses for failures.
fn start(client: &Client, id: &str) -> Result<()> {
    client.post(&format!("{}/start", cpath(id))).map_err(|e| {
        let code = start_error_code(&e.to_string());
        report("run", e, code)
    })
}

/// Tells the daemon our terminal size for a container or exec (`kind` is "containers" or
/// "exec"); failures are ignored, as docker does.
pub fn resize(client: &Client, kind: &str, id: &str) {
    if let Some((h, w)) = term::size() {
        let _ = client.post(&format!(
            "/{kind}/{}/resize?h={h}&w={w}",
            crate::http::enc_path(id)
        ));
    }
}

/// With a tty, SIGWINCH resizes; with `--sig-proxy` and no tty, signals go to the container.
pub fn watch_signals(
    client: &Client,
    id: &str,
    tty: bool,
    proxy: bool,
    kind: &'static str,
) -> Result<()> {
    let mut sigs = Vec::new();
    if tty {
        sigs.push(Signal::SIGWINCH);
    }
    if proxy && !tty && kind == "containers" {
        sigs.extend(term::PROXIED);
    }
    let client = client.clone();
    let id = id.to_string();
    term::on_signals(&sigs, move |sig| {
        if sig == Signal::SIGWINCH {
            resize(&client, kind, &id);
        } else {
            let _ = client.post(&format!("{}/kill?signal={}", cpath(&id), sig.as_str()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_codes() {
        assert_eq!(
            start_error_code("exec: \"nope\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_error_code("exec /etc: permission denied"), 126);
        assert_eq!(start_error_code("something else"), 125);
    }
}
