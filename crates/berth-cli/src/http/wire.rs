//! HTTP/1.1 on the wire: writing a request (head and body, chunked when streaming) and reading
//! a response head with `httparse`.

use std::io::{self, BufRead, Read, Write};

use super::Body;
use crate::error::{Error, Result};

/// A parsed response head.
pub struct Head {
    pub status: u16,
    pub reason: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
}

const MAX_HEAD: usize = 64 * 1024;

/// Writes the request line, headers and body.
pub fn write_request(
    w: &mut impl Write,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Body<'_>,
) -> Result<()> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: berth\r\nUser-Agent: berth-cli/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let sends_body = matches!(method, "POST" | "PUT");
    match body {
        Body::Empty => {
            if sends_body {
                head.push_str("Content-Length: 0\r\n");
            }
            head.push_str("\r\n");
            w.write_all(head.as_bytes())?;
        }
        Body::Json(bytes) => {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                bytes.len()
            ));
            let mut all = head.into_bytes();
            all.extend_from_slice(&bytes);
            w.write_all(&all)?;
        }
        Body::Stream {
            mut reader,
            content_type,
            len,
        } => {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
            match len {
                Some(n) => {
                    head.push_str(&format!("Content-Length: {n}\r\n\r\n"));
                    w.write_all(head.as_bytes())?;
                    io::copy(&mut reader.take(n), w)?;
                }
                None => {
                    head.push_str("Transfer-Encoding: chunked\r\n\r\n");
                    w.write_all(head.as_bytes())?;
                    write_chunked(&mut reader, w)?;
                }
            }
        }
    }
    w.flush()?;
    Ok(())
}

/// Copies `r` to `w` as HTTP chunks, ending with the zero chunk.
pub fn write_chunked(r: &mut dyn Read, w: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(format!("{n:x}\r\n").as_bytes())?;
        w.write_all(&buf[..n])?;
        w.write_all(b"\r\n")?;
    }
    w.write_all(b"0\r\n\r\n")
}

/// Reads and parses a response head, skipping `100 Continue`.
pub fn read_head(r: &mut impl BufRead) -> Result<Head> {
    loop {
        let head = read_one_head(r)?;
        if head.status != 100 {
            return Ok(head);
        }
    }
}

fn read_one_head(r: &mut impl BufRead) -> Result<Head> {
    let mut buf = Vec::new();
    loop {
        let n = r.read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Err(Error::Protocol(
                "the daemon closed the connection before answering".into(),
            ));
        }
        if buf.ends_with(b"\n\r\n") || buf.ends_with(b"\n\n") {
            break;
        }
        if buf.len() > MAX_HEAD {
            return Err(Error::Protocol("response head too large".into()));
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 96];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Error::Protocol("incomplete response head".into()))
        }
        Err(e) => return Err(Error::Protocol(format!("bad response head: {e}"))),
    }
    let status = resp
        .code
        .ok_or_else(|| Error::Protocol("response without a status".into()))?;
    let reason = resp.reason.unwrap_or("").to_string();
    let headers = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    Ok(Head {
        status,
        reason,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_encoding() {
        let mut out = Vec::new();
        write_chunked(&mut &b"hello"[..], &mut out).unwrap();
        assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");
    }

    #[test]
    fn parses_head_and_skips_continue() {
        let raw =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc";
        let mut r = io::BufReader::new(&raw[..]);
        let h = read_head(&mut r).unwrap();
        assert_eq!(h.status, 404);
        assert_eq!(h.headers[0], ("content-length".into(), "3".into()));
    }
}
