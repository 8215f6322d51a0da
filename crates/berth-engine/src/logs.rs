//! `docker logs`: the shim's json-file log read back (rotated files oldest first), with
//! `--tail`, `--since`/`--until`, and `--follow` until the container stops.

use crate::engine::Engine;
use crate::error::Result;
use serde::Deserialize;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct LogOpts {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub tail: Option<usize>,
    pub timestamps: bool,
    /// Unix seconds; 0 = no bound.
    pub since: f64,
    pub until: f64,
}

/// One log entry: stream 1 (stdout) or 2 (stderr), its time stamp, its bytes. Stream 0 is
/// an empty probe sent while following.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub stream: u8,
    pub time: String,
    pub bytes: Vec<u8>,
}

#[derive(Deserialize)]
struct Raw {
    log: String,
    stream: String,
    time: String,
}

fn parse(line: &str) -> Option<LogLine> {
    let r: Raw = serde_json::from_str(line).ok()?;
    Some(LogLine {
        stream: if r.stream == "stderr" { 2 } else { 1 },
        time: r.time,
        bytes: r.log.into_bytes(),
    })
}

fn secs(t: &str) -> f64 {
    humantime::parse_rfc3339(t)
        .ok()
        .and_then(|s| s.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Engine {
    /// Feed the container's log to `sink` until it returns false, the log ends, or (with
    /// `follow`) the container has stopped and everything is read.
    pub fn logs(
        &self,
        name: &str,
        o: &LogOpts,
        sink: &mut dyn FnMut(&LogLine) -> bool,
    ) -> Result<()> {
        let rec = self.find(name)?;
        let dir = self.container_dir(&rec.id);
        let keep = |l: &LogLine| {
            (if l.stream == 1 { o.stdout } else { o.stderr })
                && (o.since <= 0.0 || secs(&l.time) >= o.since)
                && (o.until <= 0.0 || secs(&l.time) < o.until)
        };
        let mut files: Vec<std::path::PathBuf> = (1..100)
            .map(|i| dir.join(format!("container.log.{i}")))
            .take_while(|p| p.exists())
            .collect();
        files.reverse();
        let current = dir.join("container.log");
        let mut lines: Vec<LogLine> = Vec::new();
        for f in &files {
            if let Ok(text) = std::fs::read_to_string(f) {
                lines.extend(text.lines().filter_map(parse).filter(|l| keep(l)));
            }
        }
        // The open file is kept: a container removed while we follow (docker-py removes
        // before it reads the stream) leaves its log readable through this handle.
        let mut cur: Option<(std::fs::File, u64)> = std::fs::File::open(&current).ok().map(|f| {
            let ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
            (f, ino)
        });
        let mut pos = 0u64;
        if let Some((f, _)) = &mut cur {
            read_from(f, &mut pos, &mut |l| {
                if keep(&l) {
                    lines.push(l);
                }
                true
            });
        }
        let skip = match o.tail {
            Some(n) => lines.len().saturating_sub(n),
            None => 0,
        };
        for l in &lines[skip..] {
            if !sink(l) {
                return Ok(());
            }
        }
        if !o.follow {
            return Ok(());
        }
        drop(lines);
        let probe = LogLine {
            stream: 0,
            time: String::new(),
            bytes: Vec::new(),
        };
        for round in 0u64.. {
            // Stream 0 carries nothing: it lets the sink notice a reader that went away.
            if round % 20 == 19 && !sink(&probe) {
                return Ok(());
            }
            let live = self
                .find(&rec.id)
                .map(|r| r.state.status.is_live())
                .unwrap_or(false);
            let mut more = true;
            if let Some((f, _)) = &mut cur {
                more = read_from(f, &mut pos, &mut |l| !keep(&l) || sink(&l));
            }
            if !more {
                return Ok(());
            }
            // Rotated (or made at last): go on with the new file once the old one is read.
            let now_ino = std::fs::metadata(&current).map(|m| m.ino()).ok();
            if now_ino.is_some() && now_ino != cur.as_ref().map(|c| c.1) {
                if let Ok(f) = std::fs::File::open(&current) {
                    let ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
                    cur = Some((f, ino));
                    pos = 0;
                    continue;
                }
            }
            if !live {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

/// Read whole lines of `f` from `pos` on, feeding each entry to `each` until it says stop
/// (false is returned then); `pos` ends after the last whole line.
fn read_from(f: &mut std::fs::File, pos: &mut u64, each: &mut dyn FnMut(LogLine) -> bool) -> bool {
    if f.seek(SeekFrom::Start(*pos)).is_err() {
        return true;
    }
    let mut r = BufReader::new(f);
    let mut s = String::new();
    while r.read_line(&mut s).unwrap_or(0) > 0 {
        if !s.ends_with('\n') {
            break;
        }
        *pos += s.len() as u64;
        if let Some(l) = parse(&s) {
            if !each(l) {
                return false;
            }
        }
        s.clear();
    }
    true
}
