//! The shim process: parse the command line, fork away from the caller, make the process,
//! report readiness on stdout, then serve until the process has exited.

pub mod arena;
mod args;
mod conn;
mod launch;
mod log;
mod serve;
mod sys;

use berth_shim::protocol::Ready;
use std::io::Write;
use std::os::fd::AsFd;

/// The binary's whole life; the exit status.
pub fn main() -> i32 {
    sys::close_inherited_fds();
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            let _ = std::io::stdout().write_all(&error_line(&e));
            return 2;
        }
    };
    // The first process returns at once (the caller reaps it); the second, in a session of
    // its own, is the shim.
    match sys::fork_child() {
        Ok(true) => {}
        Ok(false) => return 0,
        Err(e) => {
            let _ = std::io::stdout().write_all(&error_line(&e));
            return 1;
        }
    }
    let _ = nix::unistd::setsid();
    // Keep the readiness pipe aside (close-on-exec), and point stdio at /dev/null.
    let Ok(ready) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return 1;
    };
    let mut ready = std::fs::File::from(ready);
    if let Ok(null) = sys::dev_null() {
        let _ = sys::set_stdio(&null, &null, &null);
    }
    let _ = std::env::set_current_dir("/");
    // SIGCHLD is blocked before the process exists, so its exit cannot be missed; the
    // runtime unblocks signals in the process it makes.
    let launched = sys::sigchld_fd().and_then(|fd| Ok((launch::launch(&args)?, fd)));
    match launched {
        Ok((l, sigfd)) => {
            let line = Ready {
                pid: Some(l.pid),
                error: None,
            }
            .line();
            let _ = ready.write_all(&line);
            drop(ready);
            sys::release_setup_memory();
            let exec = matches!(args.mode, args::Mode::Exec { .. });
            serve::Serve::new(l, sigfd, args.dir, args.tty, exec).run();
            0
        }
        Err(e) => {
            let _ = ready.write_all(&error_line(&e));
            1
        }
    }
}

fn error_line(e: &berth_shim::Error) -> Vec<u8> {
    Ready {
        pid: None,
        error: Some(e.to_string()),
    }
    .line()
}
