//! Docker's stream formats: the multiplexed attach/logs stream (8-byte frame headers), and the
//! JSON progress messages of pull/push/load/import, printed as docker prints them.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::humanize;

/// Reads as much of `buf` as the stream holds; fewer bytes only at EOF.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Copies a multiplexed stream to `out` (stdout frames, and stdin frames) and `err` (stderr);
/// ends cleanly at EOF on a frame boundary. A system-error frame (type 3) becomes an error.
pub fn demux(r: &mut impl Read, out: &mut impl Write, err: &mut impl Write) -> Result<()> {
    let mut header = [0u8; 8];
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = read_full(r, &mut header)?;
        if n == 0 {
            return Ok(());
        }
        if n < 8 {
            return Err(Error::Protocol("stream ended inside a frame header".into()));
        }
        let mut left = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let kind = header[0];
        let mut payload = Vec::new();
        while left > 0 {
            let want = left.min(buf.len());
            let got = read_full(r, &mut buf[..want])?;
            if got == 0 {
                return Err(Error::Protocol("stream ended inside a frame".into()));
            }
            left -= got;
            match kind {
                0 | 1 => out.write_all(&buf[..got])?,
                2 => err.write_all(&buf[..got])?,
                3 => payload.extend_from_slice(&buf[..got]),
                k => return Err(Error::Protocol(format!("unknown stream type {k}"))),
            }
        }
        match kind {
            0 | 1 => out.flush()?,
            2 => err.flush()?,
            _ => {
                return Err(Error::msg(
                    String::from_utf8_lossy(&payload).trim_end().to_string(),
                ))
            }
        }
    }
}

/// Copies a raw (tty) stream to `out`, flushing as bytes arrive.
pub fn copy_raw(r: &mut impl Read, out: &mut impl Write) -> Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}

#[derive(Deserialize, Default, Debug)]
struct Progress {
    #[serde(default)]
    current: i64,
    #[serde(default)]
    total: i64,
    #[serde(default)]
    units: String,
    #[serde(default, rename = "hidecounts")]
    hide_counts: bool,
}

#[derive(Deserialize, Default, Debug)]
struct ErrorDetail {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

/// One message of a JSON progress stream.
#[derive(Deserialize, Default, Debug)]
pub struct JsonMessage {
    #[serde(default)]
    stream: String,
    #[serde(default)]
    status: String,
    #[serde(default, rename = "progressDetail")]
    progress_detail: Option<Progress>,
    #[serde(default)]
    progress: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    from: String,
    #[serde(default, rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
    #[serde(default)]
    error: String,
    #[serde(default)]
    pub aux: Option<Value>,
}

impl Progress {
    /// docker's progress text: a bar when the terminal is wide, and "current/total".
    fn render(&self, width: u16) -> String {
        if self.current <= 0 && self.total <= 0 {
            return String::new();
        }
        if self.total <= 0 {
            return match self.units.as_str() {
                "" => format!("{:>8}", humanize::size(self.current as f64)),
                u => format!("{} {u}", self.current),
            };
        }
        let pct = ((self.current as f64 / self.total as f64 * 100.0) as i64 / 2).clamp(0, 50);
        let mut s = String::new();
        if width > 110 {
            s.push_str(&format!(
                "[{}>{}] ",
                "=".repeat(pct as usize),
                " ".repeat((50 - pct) as usize)
            ));
        }
        if !self.hide_counts {
            if self.units.is_empty() {
                if self.current <= self.total {
                    s.push_str(&format!(
                        "{:>8}/{}",
                        humanize::size(self.current as f64),
                        humanize::size(self.total as f64)
                    ));
                }
            } else {
                s.push_str(&format!("{}/{} {}", self.current, self.total, self.units));
            }
        }
        s
    }
}

/// Prints a JSON message stream like docker's `DisplayJSONMessagesStream`: on a terminal,
/// one line per layer id updated in place; otherwise one line per status, progress bars
/// skipped. `aux` sees auxiliary messages. Stops at the first error message.
pub fn display_messages(
    r: impl Read,
    out: &mut impl Write,
    tty: bool,
    width: u16,
    mut aux: impl FnMut(&Value),
) -> Result<()> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let reader = io::BufReader::new(r);
    for msg in serde_json::Deserializer::from_reader(reader).into_iter::<JsonMessage>() {
        let jm = msg?;
        if let Some(a) = &jm.aux {
            aux(a);
            continue;
        }
        let mut diff = 0;
        if !jm.id.is_empty() && (jm.progress_detail.is_some() || !jm.progress.is_empty()) {
            let len = ids.len();
            let line = *ids.entry(jm.id.clone()).or_insert_with(|| {
                if tty {
                    let _ = out.write_all(b"\n");
                }
                len
            });
            diff = ids.len() - line;
            if tty && diff > 0 {
                write!(out, "\x1b[{diff}A")?;
            }
        } else {
            ids.clear();
        }
        let shown = display_one(&jm, out, tty, width);
        if !jm.id.is_empty() && tty && diff > 0 {
            write!(out, "\x1b[{diff}B")?;
        }
        out.flush()?;
        shown?;
    }
    Ok(())
}

fn display_one(jm: &JsonMessage, out: &mut impl Write, tty: bool, width: u16) -> Result<()> {
    if jm.error_detail.is_some() || !jm.error.is_empty() {
        let detail = jm.error_detail.as_ref();
        if detail.is_some_and(|d| d.code == 401) {
            return Err(Error::msg("authentication is required"));
        }
        let msg = detail
            .map(|d| d.message.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| jm.error.clone());
        return Err(Error::msg(msg));
    }
    let bar = jm
        .progress_detail
        .as_ref()
        .map(|p| p.render(width))
        .unwrap_or_default();
    let mut endl = "";
    if tty && jm.stream.is_empty() && jm.progress_detail.is_some() {
        write!(out, "\x1b[2K\r")?;
        endl = "\r";
    } else if jm.progress_detail.is_some() && !bar.is_empty() {
        // No progress bars when the output is not a terminal.
        return Ok(());
    }
    if !jm.id.is_empty() {
        write!(out, "{}: ", jm.id)?;
    }
    if !jm.from.is_empty() {
        write!(out, "(from {}) ", jm.from)?;
    }
    if jm.progress_detail.is_some() && tty {
        write!(out, "{} {}{endl}", jm.status, bar)?;
    } else if !jm.progress.is_empty() {
        write!(out, "{} {}{endl}", jm.status, jm.progress)?;
    } else if !jm.stream.is_empty() {
        write!(out, "{}{endl}", jm.stream)?;
    } else {
        writeln!(out, "{}{endl}", jm.status)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![kind, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn demultiplexes() {
        let mut raw = frame(1, b"out1\n");
        raw.extend(frame(2, b"err\n"));
        raw.extend(frame(1, b"out2\n"));
        let (mut o, mut e) = (Vec::new(), Vec::new());
        demux(&mut &raw[..], &mut o, &mut e).unwrap();
        assert_eq!(o, b"out1\nout2\n");
        assert_eq!(e, b"err\n");
    }

    #[test]
    fn demux_big_frames_and_errors() {
        let big = vec![b'x'; 100_000];
        let raw = frame(1, &big);
        let (mut o, mut e) = (Vec::new(), Vec::new());
        demux(&mut &raw[..], &mut o, &mut e).unwrap();
        assert_eq!(o.len(), 100_000);
        let cut = &raw[..20];
        assert!(demux(&mut &cut[..], &mut o, &mut e).is_err());
        let sys = frame(3, b"boom");
        let err = demux(&mut &sys[..], &mut o, &mut e).unwrap_err();
        assert_eq!(err.to_string(), "boom");
    }

    #[test]
    fn progress_without_terminal() {
        let stream = br#"{"status":"Pulling from library/busybox","id":"latest"}
{"status":"Pulling fs layer","progressDetail":{},"id":"a46f"}
{"status":"Downloading","progressDetail":{"current":100,"total":2000},"progress":"[>  ]","id":"a46f"}
{"status":"Pull complete","progressDetail":{},"id":"a46f"}
{"status":"Digest: sha256:abc"}
{"status":"Status: Downloaded newer image for busybox:latest"}"#;
        let mut out = Vec::new();
        display_messages(&stream[..], &mut out, false, 80, |_| {}).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "latest: Pulling from library/busybox\na46f: Pulling fs layer\na46f: Pull complete\n\
             Digest: sha256:abc\nStatus: Downloaded newer image for busybox:latest\n"
        );
    }

    #[test]
    fn progress_error_stops() {
        let stream =
            br#"{"stream":"Loaded image: x\n"}{"errorDetail":{"message":"bad"},"error":"bad"}"#;
        let mut out = Vec::new();
        let e = display_messages(&stream[..], &mut out, false, 80, |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "bad");
        assert_eq!(out, b"Loaded image: x\n");
    }

    #[test]
    fn progress_bar_text() {
        let p = Progress {
            current: 1_000_000,
            total: 2_000_000,
            ..Default::default()
        };
        assert_eq!(p.render(80), "     1MB/2MB");
        assert!(p.render(120).starts_with("[=========================>"));
    }
}
