//! One control-socket connection: its request line, then what it became (an attach stream, a
//! waiter, a one-shot reply), with the bytes still to be written to it.

use berth_shim::{Reply, Request};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;

/// The longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;

/// What the connection is doing.
pub enum State {
    /// Reading the request line (the bytes so far).
    Request(Vec<u8>),
    /// Streaming: output to the client, the client's bytes to stdin.
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
        keep_stdin: bool,
    },
    /// Waiting for the exit record.
    Wait,
    /// Replied; closes once the reply is written.
    Replied,
}

/// What a read brought.
pub enum Got {
    /// Nothing now.
    Nothing,
    /// The complete request line, and whatever followed it.
    Request(Result<Request, String>, Vec<u8>),
    /// Bytes from an attached client.
    Data(usize),
    /// The client shut down its write half.
    Eof,
    /// The connection is broken or misbehaved: drop it.
    Gone,
}

pub struct Conn {
    pub sock: UnixStream,
    pub state: State,
    /// Bytes to write to the client.
    pub out: Vec<u8>,
    pub read_eof: bool,
    /// Close once `out` is written.
    pub closing: bool,
    pub dead: bool,
}

impl Conn {
    pub fn new(sock: UnixStream) -> Conn {
        Conn {
            sock,
            state: State::Request(Vec::new()),
            out: Vec::new(),
            read_eof: false,
            closing: false,
            dead: false,
        }
    }

    pub fn wants_read(&self) -> bool {
        !self.read_eof
            && !self.closing
            && matches!(self.state, State::Request(_) | State::Attach { .. })
    }

    /// Whether this attach client takes output of `stream` (1 stdout, 2 stderr).
    pub fn takes(&self, stream: u8) -> bool {
        match self.state {
            State::Attach { stdout, stderr, .. } => {
                !self.closing && if stream == 2 { stderr } else { stdout }
            }
            _ => false,
        }
    }

    pub fn takes_stdin(&self) -> bool {
        matches!(self.state, State::Attach { stdin: true, .. })
    }

    /// Its end closes the process's stdin (it takes stdin and did not ask to keep it).
    pub fn ends_stdin(&self) -> bool {
        matches!(
            self.state,
            State::Attach {
                stdin: true,
                keep_stdin: false,
                ..
            }
        )
    }

    /// Queue output: raw with a tty, else in a frame `[stream, 0, 0, 0, len BE u32]`.
    pub fn send_output(&mut self, stream: u8, data: &[u8], tty: bool) {
        if !tty {
            self.out.extend_from_slice(&[stream, 0, 0, 0]);
            self.out
                .extend_from_slice(&(data.len() as u32).to_be_bytes());
        }
        self.out.extend_from_slice(data);
    }

    /// Queue a reply line; with `last`, close after it.
    pub fn reply(&mut self, r: &Reply, last: bool) {
        self.out.extend_from_slice(&r.line());
        if last {
            self.state = State::Replied;
            self.closing = true;
        }
    }

    /// Read what the client sent into `buf` (attach) or the request buffer.
    pub fn read(&mut self, buf: &mut [u8]) -> Got {
        match &mut self.state {
            State::Request(line) => {
                let start = line.len();
                line.resize(start + 1024, 0);
                let r = self.sock.read(&mut line[start..]);
                let n = match r {
                    Ok(n) => n,
                    Err(e) => {
                        line.truncate(start);
                        return transient(&e);
                    }
                };
                line.truncate(start + n);
                if n == 0 {
                    return Got::Gone;
                }
                let Some(nl) = line.iter().position(|&b| b == b'\n') else {
                    return if line.len() > MAX_REQUEST {
                        Got::Gone
                    } else {
                        Got::Nothing
                    };
                };
                let rest = line.split_off(nl + 1);
                let req = serde_json::from_slice(&line[..nl]).map_err(|e| e.to_string());
                line.clear();
                line.shrink_to_fit();
                Got::Request(req, rest)
            }
            _ => match self.sock.read(buf) {
                Ok(0) => {
                    self.read_eof = true;
                    Got::Eof
                }
                Ok(n) => Got::Data(n),
                Err(e) => transient(&e),
            },
        }
    }

    /// Write what is queued; marks the connection dead when the client is gone or when it
    /// was to close and everything is written.
    pub fn flush(&mut self) {
        while !self.out.is_empty() {
            match self.sock.write(&self.out) {
                Ok(0) => {
                    self.dead = true;
                    return;
                }
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
        if self.out.is_empty() {
            if self.out.capacity() > 64 * 1024 {
                self.out = Vec::new();
            }
            if self.closing {
                self.dead = true;
            }
        }
    }
}

fn transient(e: &std::io::Error) -> Got {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::Interrupted => Got::Nothing,
        _ => Got::Gone,
    }
}
