//! The blocking client of a shim's control socket: one connection per request.

use crate::error::{Context, Error, Result};
use crate::protocol::{read_exit, ExitInfo, Reply, Request, SOCKET};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The longest reply line accepted.
const MAX_LINE: usize = 64 * 1024;

/// A shim's control socket. Every call opens its own connection (the first reuses the one
/// `connect` made to check the shim is there).
#[derive(Debug)]
pub struct Client {
    dir: PathBuf,
    first: Mutex<Option<UnixStream>>,
}

impl Client {
    /// Connect to the shim whose state directory is `dir`. When the shim has already exited
    /// and left its exit record, this succeeds too: `wait` then returns that record (and
    /// every other call fails to connect).
    pub fn connect(dir: &Path) -> Result<Client> {
        let first = match dial(dir) {
            Ok(s) => Some(s),
            Err(e) => match read_exit(dir) {
                Ok(Some(_)) => None,
                _ => return Err(e),
            },
        };
        Ok(Client {
            dir: dir.to_path_buf(),
            first: Mutex::new(first),
        })
    }

    fn stream(&self) -> Result<UnixStream> {
        let first = match self.first.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        match first {
            Some(s) => Ok(s),
            None => dial(&self.dir),
        }
    }

    /// Attach to the process's stdio. The returned stream carries its output (multiplexed
    /// frames without a tty, raw bytes with one); what is written to it goes to its stdin,
    /// and shutting down its write half closes that stdin.
    pub fn attach(&self, stdin: bool, stdout: bool, stderr: bool) -> Result<UnixStream> {
        self.attach_keeping_stdin(stdin, stdout, stderr, false)
    }

    /// [`Client::attach`]; with `keep_stdin`, this stream's end does not close the
    /// process's stdin.
    pub fn attach_keeping_stdin(
        &self,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        keep_stdin: bool,
    ) -> Result<UnixStream> {
        let mut s = self.stream()?;
        let req = Request::Attach {
            stdin,
            stdout,
            stderr,
            keep_stdin,
        };
        expect_ok(roundtrip(&mut s, &req)?)?;
        Ok(s)
    }

    /// Set the pty's window size (an error when the process has no tty).
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        let mut s = self.stream()?;
        expect_ok(roundtrip(&mut s, &Request::Resize { rows, cols })?)
    }

    /// Send `signal` to the process.
    pub fn kill(&self, signal: i32) -> Result<()> {
        let mut s = self.stream()?;
        expect_ok(roundtrip(&mut s, &Request::Kill { signal })?)
    }

    /// Block until the process has exited; how it ended. When the shim goes away without a
    /// reply (it exited meanwhile), the exit record it left is read instead.
    pub fn wait(&self) -> Result<ExitInfo> {
        let reply = self
            .stream()
            .and_then(|mut s| roundtrip(&mut s, &Request::Wait));
        match reply {
            Ok(Reply::Exit(e)) => Ok(e),
            Ok(Reply::Error { error }) => Err(Error::Shim(error)),
            Ok(r) => Err(Error::Protocol(format!("unexpected reply to wait: {r:?}"))),
            Err(e) => read_exit(&self.dir)?.ok_or(e),
        }
    }
}

/// The first half of a wait, for callers that watch many shims at once: a connection to
/// the shim in `dir` with the wait request sent, set non-blocking. Its reply is one line;
/// give what has been read to [`wait_reply`].
pub fn start_wait(dir: &Path) -> Result<UnixStream> {
    let mut s = dial(dir)?;
    let mut line =
        serde_json::to_vec(&Request::Wait).map_err(|e| Error::Protocol(e.to_string()))?;
    line.push(b'\n');
    s.write_all(&line).ctx(|| "writing to the shim")?;
    s.set_nonblocking(true)
        .ctx(|| "setting the shim connection non-blocking")?;
    Ok(s)
}

/// The exit record in what a [`start_wait`] connection delivered, once its line is complete
/// (None before). A connection that ended without it falls back to the shim's `exit.json`.
pub fn wait_reply(dir: &Path, got: &[u8], ended: bool) -> Option<Result<ExitInfo>> {
    let parsed = match got.iter().position(|b| *b == b'\n') {
        Some(end) => serde_json::from_slice::<Reply>(&got[..end])
            .map_err(|e| Error::Protocol(format!("wait reply: {e}"))),
        None if ended || got.len() > MAX_LINE => Err(Error::Protocol(
            "the shim closed the connection without a reply".into(),
        )),
        None => return None,
    };
    Some(match parsed {
        Ok(Reply::Exit(e)) => Ok(e),
        Ok(Reply::Error { error }) => Err(Error::Shim(error)),
        Ok(r) => Err(Error::Protocol(format!("unexpected reply to wait: {r:?}"))),
        Err(e) => read_exit(dir).and_then(|r| r.ok_or(e)),
    })
}

fn dial(dir: &Path) -> Result<UnixStream> {
    let path = dir.join(SOCKET);
    UnixStream::connect(&path).ctx(|| format!("connecting to shim {}", path.display()))
}

fn expect_ok(r: Reply) -> Result<()> {
    match r {
        Reply::Ok { ok: true } => Ok(()),
        Reply::Error { error } => Err(Error::Shim(error)),
        r => Err(Error::Protocol(format!("unexpected reply {r:?}"))),
    }
}

/// Write the request line and read the reply line, byte by byte so that nothing after the
/// newline (attach output) is consumed.
fn roundtrip(s: &mut UnixStream, req: &Request) -> Result<Reply> {
    let mut line = serde_json::to_vec(req).map_err(|e| Error::Protocol(e.to_string()))?;
    line.push(b'\n');
    s.write_all(&line).ctx(|| "writing to the shim")?;
    line.clear();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b) {
            Ok(0) => {
                return Err(Error::Protocol(
                    "the shim closed the connection without a reply".into(),
                ))
            }
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) if line.len() >= MAX_LINE => {
                return Err(Error::Protocol("reply line too long".into()))
            }
            Ok(_) => line.push(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).ctx(|| "reading from the shim"),
        }
    }
    serde_json::from_slice(&line).map_err(|e| {
        Error::Protocol(format!(
            "reply {:?}: {e}",
            String::from_utf8_lossy(&line).trim()
        ))
    })
}
