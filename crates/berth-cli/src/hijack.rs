//! Driving a hijacked attach/exec connection: our stdin to the socket (shut down for writing
//! at EOF, ctrl-p ctrl-q detaches on a tty), the socket to stdout/stderr (demultiplexed
//! without a tty, raw with one).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crate::error::Result;
use crate::http::Hijacked;
use crate::stream;

/// Docker's default detach sequence, ctrl-p ctrl-q.
const DETACH_KEYS: [u8; 2] = [0x10, 0x11];

/// How the session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The daemon closed the output: the process is done (or its streams are).
    Closed,
    /// The user typed the detach keys.
    Detached,
}

/// Copies stdin to the connection (when `send_stdin`) and the connection to stdout/stderr
/// until the daemon closes it.
pub fn pump(h: Hijacked, tty: bool, send_stdin: bool) -> Result<Ended> {
    let Hijacked { mut reader, writer } = h;
    let detached = Arc::new(AtomicBool::new(false));
    if send_stdin {
        let w = writer.try_clone()?;
        let flag = detached.clone();
        thread::spawn(move || copy_stdin(w, tty, flag));
    }
    let result = if tty {
        stream::copy_raw(&mut reader, &mut io::stdout())
    } else {
        stream::demux(&mut reader, &mut io::stdout(), &mut io::stderr())
    };
    if detached.load(Ordering::SeqCst) {
        return Ok(Ended::Detached);
    }
    result.map(|_| Ended::Closed)
}

fn copy_stdin(mut w: std::os::unix::net::UnixStream, tty: bool, detached: Arc<AtomicBool>) {
    let mut stdin = io::stdin();
    let mut buf = [0u8; 4096];
    let mut matched = 0;
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if tty {
            for &b in &buf[..n] {
                matched = if b == DETACH_KEYS[matched] {
                    matched + 1
                } else {
                    0
                };
                if matched == DETACH_KEYS.len() {
                    detached.store(true, Ordering::SeqCst);
                    let _ = w.shutdown(Shutdown::Both);
                    return;
                }
            }
        }
        if w.write_all(&buf[..n]).is_err() {
            return;
        }
    }
    let _ = w.shutdown(Shutdown::Write);
}
