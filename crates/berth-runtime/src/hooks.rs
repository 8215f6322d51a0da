//! Running OCI hooks: the hook's path with its args and env, the container state JSON on stdin.

use crate::error::{Error, Result};
use crate::state::PublicState;
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which of the six hook lists.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

/// The hooks of one kind from a spec.
pub fn of_kind(spec: &oci_spec::runtime::Spec, kind: Kind) -> Vec<Hook> {
    let Some(h) = spec.hooks().as_ref() else {
        return Vec::new();
    };
    #[allow(deprecated)]
    let list = match kind {
        Kind::Prestart => h.prestart(),
        Kind::CreateRuntime => h.create_runtime(),
        Kind::CreateContainer => h.create_container(),
        Kind::StartContainer => h.start_container(),
        Kind::Poststart => h.poststart(),
        Kind::Poststop => h.poststop(),
    };
    list.clone().unwrap_or_default()
}

/// Run every hook of `kind` in order; the first failure stops and is returned. The state
/// they read on stdin is made only when there is a hook (it costs a status check).
pub fn run(
    spec: &oci_spec::runtime::Spec,
    kind: Kind,
    state: impl FnOnce() -> PublicState,
) -> Result<()> {
    let hooks = of_kind(spec, kind);
    if hooks.is_empty() {
        return Ok(());
    }
    let state = &state();
    let json =
        serde_json::to_vec(state).map_err(|e| Error::Hook(format!("encoding state: {e}")))?;
    for h in &hooks {
        run_one(h, &json)
            .map_err(|e| Error::Hook(format!("{kind:?} hook {}: {e}", h.path().display())))?;
    }
    Ok(())
}

fn run_one(h: &Hook, state: &[u8]) -> std::result::Result<(), String> {
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args() {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first);
            cmd.args(rest);
        }
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state);
    }
    let deadline = h
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(s) => break s,
            None => {
                if deadline.is_some_and(|d| Instant::now() > d) {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("timed out after {}s", h.timeout().unwrap_or(0)));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    };
    if !status.success() {
        return Err(format!("exited with {status}"));
    }
    Ok(())
}
