//! The container log in docker's json-file format: one JSON object per line, lines longer
//! than 16 KiB split, the file rotated at a size keeping a number of files.

use berth_shim::{Context, Result};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The longest `log` value; a longer line is written as several entries.
pub const MAX_LINE: usize = 16 * 1024;

/// One line of the file.
#[derive(Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    time: &'a str,
}

/// An open json-file log.
pub struct JsonLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    /// The unfinished line of stdout and of stderr.
    partial: [Vec<u8>; 2],
    /// Scratch space for one encoded entry.
    line: Vec<u8>,
}

impl JsonLog {
    /// Open (append to) `path`; rotate when it reaches `max_size` bytes, keeping `max_file`
    /// files in all (1 when only a size is given: the file is truncated).
    pub fn open(path: &Path, max_size: Option<u64>, max_file: Option<u32>) -> Result<JsonLog> {
        let file = open_append(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(JsonLog {
            path: path.to_path_buf(),
            file,
            size,
            max_size: max_size.filter(|&n| n > 0),
            max_file: max_file.unwrap_or(1).max(1),
            partial: [Vec::new(), Vec::new()],
            line: Vec::new(),
        })
    }

    /// Add output of `stream` (1 stdout, 2 stderr): every complete line becomes an entry,
    /// the rest waits for its newline.
    pub fn write(&mut self, stream: u8, data: &[u8]) -> Result<()> {
        let s = usize::from(stream == 2);
        let mut rest = data;
        while !rest.is_empty() {
            let room = MAX_LINE - self.partial[s].len();
            let window = &rest[..rest.len().min(room)];
            let (n, complete) = match window.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None if rest.len() >= room => (room, true),
                None => (rest.len(), false),
            };
            self.partial[s].extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if complete {
                self.flush_stream(s)?;
            }
        }
        Ok(())
    }

    /// Write the unfinished lines as they are (at exit).
    pub fn flush(&mut self) -> Result<()> {
        self.flush_stream(0)?;
        self.flush_stream(1)
    }

    fn flush_stream(&mut self, s: usize) -> Result<()> {
        if self.partial[s].is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.partial[s]);
        let r = self.entry(if s == 0 { "stdout" } else { "stderr" }, &line);
        self.partial[s] = line;
        self.partial[s].clear();
        if self.partial[s].capacity() > MAX_LINE {
            self.partial[s].shrink_to(MAX_LINE);
        }
        r
    }

    fn entry(&mut self, stream: &str, bytes: &[u8]) -> Result<()> {
        let time = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
        let log = String::from_utf8_lossy(bytes);
        self.line.clear();
        serde_json::to_writer(
            &mut self.line,
            &Entry {
                log: &log,
                stream,
                time: &time,
            },
        )
        .map_err(|e| berth_shim::Error::Protocol(e.to_string()))?;
        self.line.push(b'\n');
        if let Some(max) = self.max_size {
            if self.size >= max {
                self.rotate()?;
            }
        }
        self.file
            .write_all(&self.line)
            .ctx(|| format!("writing {}", self.path.display()))?;
        self.size += self.line.len() as u64;
        Ok(())
    }

    /// container.log → .1 → .2 ...; the oldest beyond `max_file` files is dropped.
    fn rotate(&mut self) -> Result<()> {
        if self.max_file <= 1 {
            self.file
                .set_len(0)
                .ctx(|| format!("truncating {}", self.path.display()))?;
            self.size = 0;
            return Ok(());
        }
        for i in (1..self.max_file - 1).rev() {
            let from = numbered(&self.path, i);
            match std::fs::rename(&from, numbered(&self.path, i + 1)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).ctx(|| format!("rotating {}", from.display()))
                }
                _ => {}
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))
            .ctx(|| format!("rotating {}", self.path.display()))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn numbered(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

fn open_append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ctx(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn entries(p: &Path) -> Vec<Value> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn lines_become_entries_per_stream() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("container.log");
        let mut log = JsonLog::open(&p, None, None).unwrap();
        log.write(1, b"hel").unwrap();
        log.write(2, b"oops\n").unwrap();
        log.write(1, b"lo\nwor").unwrap();
        log.flush().unwrap();
        let e = entries(&p);
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(
            (e[0]["log"].as_str(), e[0]["stream"].as_str()),
            (Some("oops\n"), Some("stderr"))
        );
        assert_eq!(
            (e[1]["log"].as_str(), e[1]["stream"].as_str()),
            (Some("hello\n"), Some("stdout"))
        );
        assert_eq!(e[2]["log"], "wor");
        let t = e[0]["time"].as_str().unwrap();
        assert!(
            t.len() == 30 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
    }

    #[test]
    fn long_lines_are_split_at_16k() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("container.log");
        let mut log = JsonLog::open(&p, None, None).unwrap();
        let mut big = vec![b'a'; MAX_LINE * 2 + 10];
        big.push(b'\n');
        log.write(1, &big).unwrap();
        let e = entries(&p);
        let lens: Vec<usize> = e.iter().map(|v| v["log"].as_str().unwrap().len()).collect();
        assert_eq!(lens, vec![MAX_LINE, MAX_LINE, 11]);
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("container.log");
        let mut log = JsonLog::open(&p, Some(200), Some(3)).unwrap();
        for i in 0..100 {
            log.write(1, format!("line {i}\n").as_bytes()).unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["container.log", "container.log.1", "container.log.2"]
        );
        // The newest line is in the current file, older ones in .1.
        let cur = entries(&p);
        assert_eq!(cur.last().unwrap()["log"], "line 99\n");
        let older = entries(&d.path().join("container.log.1"));
        assert!(older.last().unwrap()["log"].as_str().unwrap() < "line 99");
        assert!(
            std::fs::metadata(d.path().join("container.log.1"))
                .unwrap()
                .len()
                < 400
        );
    }

    #[test]
    fn a_size_without_a_file_count_truncates() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("container.log");
        let mut log = JsonLog::open(&p, Some(300), None).unwrap();
        for i in 0..50 {
            log.write(2, format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(std::fs::metadata(&p).unwrap().len() < 400);
        assert!(!d.path().join("container.log.1").exists());
        assert_eq!(entries(&p).last().unwrap()["log"], "line 49\n");
    }
}
