//! A response: status, headers, and a body read as it arrives (Content-Length, chunked, or
//! until the daemon closes the connection).

use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::net::UnixStream;

use serde_json::Value;

use super::wire::Head;
use crate::error::{Error, Result};

/// A response whose body has not been read yet.
pub struct Response {
    pub status: u16,
    pub reason: String,
    headers: Vec<(String, String)>,
    body: BodyReader<BufReader<UnixStream>>,
}

impl Response {
    pub(super) fn new(head: Head, conn: BufReader<UnixStream>, head_only: bool) -> Response {
        let framing = framing(&head, head_only);
        Response {
            status: head.status,
            reason: head.reason,
            headers: head.headers,
            body: BodyReader::new(conn, framing),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Turns an error status into `Error::Daemon` with the body's `message`.
    pub fn error_for_status(mut self) -> Result<Response> {
        if self.status < 400 {
            return Ok(self);
        }
        let mut body = Vec::new();
        // A broken body still leaves the status to report.
        let _ = self.body.read_to_end(&mut body);
        let message = error_message(&body).unwrap_or_else(|| {
            if self.reason.is_empty() {
                format!("status {}", self.status)
            } else {
                self.reason.to_lowercase()
            }
        });
        Err(Error::Daemon {
            status: self.status,
            message,
        })
    }

    /// The whole body.
    pub fn bytes(mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.body.read_to_end(&mut out)?;
        Ok(out)
    }

    /// The body parsed as JSON.
    pub fn json(self) -> Result<Value> {
        Ok(serde_json::from_slice(&self.bytes()?)?)
    }

    /// The body parsed as JSON, or Null when it is empty.
    pub fn json_or_null(self) -> Result<Value> {
        let b = self.bytes()?;
        if b.iter().all(|c| c.is_ascii_whitespace()) {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&b)?)
    }

    /// Reads and discards the body.
    pub fn drain(mut self) -> Result<()> {
        io::copy(&mut self.body, &mut io::sink())?;
        Ok(())
    }

    /// The connection itself, for hijacked streams.
    pub(super) fn into_reader(self) -> BufReader<UnixStream> {
        self.body.inner
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}

/// Docker's error body is `{"message": "..."}`; anything else is taken as text.
fn error_message(body: &[u8]) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            return Some(m.to_string());
        }
    }
    let text = String::from_utf8_lossy(body).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Framing {
    Empty,
    Length(u64),
    Chunked,
    Eof,
}

fn framing(head: &Head, head_only: bool) -> Framing {
    let get = |n: &str| {
        head.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    if head_only || head.status < 200 || head.status == 204 || head.status == 304 {
        return Framing::Empty;
    }
    if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return Framing::Chunked;
    }
    match get("content-length").and_then(|v| v.parse().ok()) {
        Some(n) => Framing::Length(n),
        None => Framing::Eof,
    }
}

/// Reads a body according to its framing; `read` returns 0 at its end.
pub struct BodyReader<R> {
    inner: R,
    framing: Framing,
    /// Bytes left in the current chunk (chunked) or in the body (length).
    left: u64,
    /// A chunk's trailing CRLF is still unread.
    need_crlf: bool,
    done: bool,
}

impl<R: BufRead> BodyReader<R> {
    pub fn new(inner: R, framing: Framing) -> Self {
        let left = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        BodyReader {
            inner,
            framing,
            left,
            need_crlf: false,
            done: framing == Framing::Empty,
        }
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        self.inner.read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunked body",
            ));
        }
        Ok(String::from_utf8_lossy(&line).trim().to_string())
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        if self.need_crlf {
            self.line()?;
            self.need_crlf = false;
        }
        let line = self.line()?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size {line:?}"),
            )
        })?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !self.line()?.is_empty() {}
            self.done = true;
        } else {
            self.left = size;
            self.need_crlf = true;
        }
        Ok(())
    }
}

impl<R: BufRead> Read for BodyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        match self.framing {
            Framing::Empty => Ok(0),
            Framing::Eof => self.inner.read(buf),
            Framing::Length(_) | Framing::Chunked => {
                if self.left == 0 {
                    if self.framing == Framing::Chunked {
                        self.next_chunk()?;
                        if self.done {
                            return Ok(0);
                        }
                    } else {
                        self.done = true;
                        return Ok(0);
                    }
                }
                let max = buf
                    .len()
                    .min(usize::try_from(self.left).unwrap_or(usize::MAX));
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before the end of the body",
                    ));
                }
                self.left -= n as u64;
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(raw: &[u8], f: Framing) -> io::Result<Vec<u8>> {
        let mut r = BodyReader::new(io::BufReader::with_capacity(3, raw), f);
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn chunked_body() {
        let raw = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        assert_eq!(read_all(raw, Framing::Chunked).unwrap(), b"hello, world");
    }

    #[test]
    fn length_body_stops_at_length() {
        assert_eq!(read_all(b"abcdef", Framing::Length(4)).unwrap(), b"abcd");
        assert!(read_all(b"ab", Framing::Length(4)).is_err());
    }

    #[test]
    fn eof_body() {
        assert_eq!(read_all(b"all of it", Framing::Eof).unwrap(), b"all of it");
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            error_message(br#"{"message":"No such container: x"}"#).unwrap(),
            "No such container: x"
        );
        assert_eq!(error_message(b"plain\n").unwrap(), "plain");
        assert!(error_message(b"").is_none());
    }
}
