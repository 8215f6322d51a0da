//! `docker run --init`: this binary, bind-mounted into the container as /sbin/docker-init,
//! runs as the container's pid 1 in place of the command. It starts the command, passes on
//! every signal it can catch, reaps every orphan reparented to it, and exits as the command
//! did (its code, or 128 + the signal that killed it), as docker's tini does.

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{execvp, fork, ForkResult, Pid};
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;

/// The name it answers to.
pub const NAME: &str = "docker-init";

/// Run `args` (`[--] COMMAND ARG...`) under this init; the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    let args: Vec<OsString> = match args.first() {
        Some(a) if a == "--" => args[1..].to_vec(),
        _ => args,
    };
    let Some(argv) = args
        .into_iter()
        .map(|a| CString::new(a.into_vec()).ok())
        .collect::<Option<Vec<CString>>>()
        .filter(|a| !a.is_empty())
    else {
        eprintln!("{NAME}: usage: {NAME} [--] COMMAND [ARG...]");
        return 2;
    };
    let all = SigSet::all();
    let mut old = SigSet::empty();
    if let Err(e) =
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&all), Some(&mut old))
    {
        eprintln!("{NAME}: blocking signals: {e}");
        return 1;
    }
    // SAFETY: the child only restores its signal mask and execs (or reports and exits);
    // this process has one thread.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            let e = execvp(&argv[0], &argv).unwrap_err();
            eprintln!("{NAME}: exec {:?} failed: {e}", argv[0]);
            std::process::exit(if e == nix::errno::Errno::ENOENT {
                127
            } else {
                126
            });
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("{NAME}: fork: {e}");
            return 1;
        }
    };
    loop {
        match all.wait() {
            Ok(Signal::SIGCHLD) => {
                if let Some(code) = reap(child) {
                    return code;
                }
            }
            Ok(sig) => {
                let _ = kill(child, sig);
            }
            Err(_) => {}
        }
    }
}

/// Reap every exited child; the command's exit status once it is among them.
fn reap(command: Pid) -> Option<i32> {
    let mut status = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => status = Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == command => {
                status = Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return status,
            Ok(_) => {}
        }
    }
}
