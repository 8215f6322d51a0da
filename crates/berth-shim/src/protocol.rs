//! What crosses the shim's boundaries: the control-socket request and reply lines, the
//! readiness line, `exit.json`, and the names of the files in the shim's state directory.

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The control socket.
pub const SOCKET: &str = "shim.sock";
/// The shim's pid.
pub const PID_FILE: &str = "shim.pid";
/// The json-file log of a container (rotated copies get `.1`, `.2`, ...).
pub const LOG_FILE: &str = "container.log";
/// The exit record, written once the process has exited.
pub const EXIT_FILE: &str = "exit.json";
/// Where the runtime hands the pty master over (`--tty`), removed once received.
pub const CONSOLE_SOCKET: &str = "console.sock";

/// One request line on the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// Turn the connection into the process's stdio stream.
    Attach {
        #[serde(default)]
        stdin: bool,
        #[serde(default)]
        stdout: bool,
        #[serde(default)]
        stderr: bool,
        /// This client's end of stdin (its EOF, or its going away: a detach) leaves the
        /// process's stdin open for the next attach (docker's `StdinOnce` false).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        keep_stdin: bool,
    },
    /// Set the pty's window size.
    Resize { rows: u16, cols: u16 },
    /// Reply with the exit record once the process has exited.
    Wait,
    /// Send a signal to the process.
    Kill { signal: i32 },
}

/// One reply line: `{"ok":true}`, `{"error":"..."}` or the exit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Reply {
    Exit(ExitInfo),
    Error { error: String },
    Ok { ok: bool },
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Ok { ok: true }
    }

    pub fn error(msg: impl Into<String>) -> Reply {
        Reply::Error { error: msg.into() }
    }

    /// The reply as one line, newline included.
    pub fn line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        v.push(b'\n');
        v
    }
}

/// How the process ended: `exit.json` and the reply to `wait`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// The exit status, or 128+N when killed by signal N.
    pub exit_code: i32,
    /// The memory cgroup counted an OOM kill while the process ran.
    pub oom_killed: bool,
    /// RFC 3339 with nanoseconds, UTC.
    pub finished_at: String,
}

/// The readiness line the shim writes to its stdout: `{"pid":N}` or `{"error":"..."}`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ready {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Ready {
    /// The line, newline included.
    pub fn line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        v.push(b'\n');
        v
    }

    /// The pid, or the shim's error.
    pub fn into_result(self) -> Result<i32> {
        match (self.pid, self.error) {
            (_, Some(e)) => Err(Error::Shim(e)),
            (Some(pid), None) => Ok(pid),
            (None, None) => Err(Error::Protocol(
                "readiness line has neither pid nor error".into(),
            )),
        }
    }
}

/// The exit record in `dir`, if the process has exited.
pub fn read_exit(dir: &Path) -> Result<Option<ExitInfo>> {
    let path = dir.join(EXIT_FILE);
    let text = match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        r => r.ctx(|| format!("reading {}", path.display()))?,
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| Error::Protocol(format!("{}: {e}", path.display())))
}

/// Write the exit record atomically (a temp file renamed into place).
pub fn write_exit(dir: &Path, info: &ExitInfo) -> Result<()> {
    let tmp = dir.join(".exit.json.tmp");
    let data = serde_json::to_vec(info).map_err(|e| Error::Protocol(e.to_string()))?;
    std::fs::write(&tmp, data).ctx(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join(EXIT_FILE)).ctx(|| format!("renaming {}", tmp.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_match_the_documented_lines() {
        let r: Request =
            serde_json::from_str(r#"{"op":"attach","stdin":true,"stdout":true,"stderr":false}"#)
                .unwrap();
        assert_eq!(
            r,
            Request::Attach {
                stdin: true,
                stdout: true,
                stderr: false,
                keep_stdin: false,
            }
        );
        let r: Request = serde_json::from_str(r#"{"op":"resize","rows":24,"cols":80}"#).unwrap();
        assert_eq!(r, Request::Resize { rows: 24, cols: 80 });
        assert_eq!(
            serde_json::to_string(&Request::Wait).unwrap(),
            r#"{"op":"wait"}"#
        );
        assert_eq!(
            serde_json::to_string(&Request::Kill { signal: 15 }).unwrap(),
            r#"{"op":"kill","signal":15}"#
        );
    }

    #[test]
    fn replies_round_trip() {
        assert_eq!(Reply::ok().line(), b"{\"ok\":true}\n");
        assert_eq!(Reply::error("no").line(), b"{\"error\":\"no\"}\n");
        let exit = r#"{"exit_code":3,"oom_killed":false,"finished_at":"2026-11-23T10:00:01.5Z"}"#;
        match serde_json::from_str::<Reply>(exit).unwrap() {
            Reply::Exit(e) => assert_eq!(e.exit_code, 3),
            r => panic!("{r:?}"),
        }
        assert_eq!(
            serde_json::from_str::<Reply>(r#"{"ok":true}"#).unwrap(),
            Reply::ok()
        );
        assert_eq!(
            serde_json::from_str::<Reply>(r#"{"error":"x"}"#).unwrap(),
            Reply::error("x")
        );
    }

    #[test]
    fn readiness_lines() {
        let r: Ready = serde_json::from_str(r#"{"pid":1234}"#).unwrap();
        assert_eq!(r.into_result().unwrap(), 1234);
        let r: Ready = serde_json::from_str(r#"{"error":"boom"}"#).unwrap();
        assert_eq!(r.into_result().unwrap_err().to_string(), "boom");
        let ready = Ready {
            pid: Some(7),
            error: None,
        };
        assert_eq!(ready.line(), b"{\"pid\":7}\n");
    }

    #[test]
    fn exit_file_round_trips() {
        let d = tempfile::tempdir().unwrap();
        assert!(read_exit(d.path()).unwrap().is_none());
        let e = ExitInfo {
            exit_code: 137,
            oom_killed: true,
            finished_at: "2026-11-23T10:00:01.5Z".into(),
        };
        write_exit(d.path(), &e).unwrap();
        assert_eq!(read_exit(d.path()).unwrap(), Some(e));
    }
}
