//! `cp`: files between the host and a container, as tar archives through
//! `GET`/`HEAD`/`PUT /containers/{id}/archive?path=`, with docker's naming rules.

use std::fs;
use std::io::{self, IsTerminal, Read};
use std::path::{Component, Path, PathBuf};
use std::thread;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::Args;
use serde_json::Value;

use super::cpath;
use crate::error::{Error, Result};
use crate::http::{query, Client, Response};
use crate::humanize;
use crate::opts::io_text;
use crate::output::errln;

/// `cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-` and `cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`
#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy
    #[arg(short = 'q', long)]
    pub quiet: bool,
    pub src: String,
    pub dst: String,
}

/// A `cp` operand: a local path or `container:path`.
#[derive(Debug, PartialEq, Eq)]
pub enum Loc {
    Local(String),
    Container(String, String),
}

/// docker's rule: paths starting with `/` or `.` are local; otherwise `name:path` names a
/// container.
pub fn split_arg(arg: &str) -> Loc {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Loc::Local(arg.to_string());
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() => Loc::Container(c.to_string(), p.to_string()),
        _ => Loc::Local(arg.to_string()),
    }
}

/// `berth cp`.
pub fn cp(client: &Client, a: &CpArgs) -> Result<i32> {
    match (split_arg(&a.src), split_arg(&a.dst)) {
        (Loc::Container(c, p), Loc::Local(d)) => copy_from(client, a, &c, &p, &d),
        (Loc::Local(s), Loc::Container(c, p)) => copy_to(client, a, &s, &c, &p),
        (Loc::Container(..), Loc::Container(..)) => {
            Err(Error::msg("copying between containers is not supported"))
        }
        (Loc::Local(..), Loc::Local(..)) => {
            Err(Error::msg("must specify at least one container source"))
        }
    }
}

/// The decoded `X-Docker-Container-Path-Stat` header.
fn path_stat(resp: &Response) -> Option<Value> {
    let raw = resp.header("x-docker-container-path-stat")?;
    let bytes = STANDARD.decode(raw).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Go's `os.ModeDir` bit.
const MODE_DIR: u64 = 1 << 31;

fn is_dir(stat: &Value) -> bool {
    stat["mode"].as_u64().is_some_and(|m| m & MODE_DIR != 0)
}

fn base_name(p: &str) -> String {
    Path::new(p.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into())
}

fn parent_of(p: &str) -> String {
    let trimmed = p.trim_end_matches('/');
    match Path::new(trimmed).parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_string_lossy().into_owned(),
        _ if trimmed.starts_with('/') => "/".into(),
        _ => ".".into(),
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

fn done(a: &CpArgs, n: u64, to: &str) {
    if !a.quiet && io::stderr().is_terminal() {
        errln(&format!(
            "Successfully copied {} to {to}",
            humanize::size(n as f64)
        ));
    }
}

/// Where an archive entry lands: its path with the top component renamed or dropped.
fn rebase(entry: &Path, rename: Option<&str>, drop_top: bool) -> Option<PathBuf> {
    // The top is the path's base name, or `.` for `dir/.` and `/` for the root (docker).
    let mut parts = entry.components();
    let first = parts.next()?;
    let mut out = PathBuf::new();
    if !drop_top {
        match rename {
            Some(n) => out.push(n),
            None => out.push(first.as_os_str()),
        }
    }
    for c in parts {
        match c {
            Component::Normal(s) => out.push(s),
            _ => return None,
        }
    }
    if !matches!(
        first,
        Component::Normal(_) | Component::CurDir | Component::RootDir
    ) {
        return None;
    }
    Some(out)
}

fn copy_from(client: &Client, a: &CpArgs, container: &str, path: &str, dst: &str) -> Result<i32> {
    let q = query(&[("path", path.to_string())]);
    let resp = client
        .req("GET", &format!("{}/archive{q}", cpath(container)))
        .call()?;
    let stat = path_stat(&resp).unwrap_or(Value::Null);
    let mut body = Counting { inner: resp, n: 0 };
    if dst == "-" {
        io::copy(&mut body, &mut io::stdout().lock())?;
        return Ok(0);
    }
    let src_dir = is_dir(&stat);
    let contents_only = path.ends_with("/.");
    let (target, rename, drop_top) = match fs::metadata(dst) {
        Ok(m) if m.is_dir() => (PathBuf::from(dst), None, contents_only && src_dir),
        Ok(_) if src_dir => return Err(Error::msg("cannot copy a directory to a file")),
        Ok(_) => (PathBuf::from(parent_of(dst)), Some(base_name(dst)), false),
        Err(_) => {
            if dst.ends_with('/') && !src_dir {
                return Err(Error::msg(format!(
                    "destination directory {dst} does not exist"
                )));
            }
            let parent = parent_of(dst);
            if !Path::new(&parent).is_dir() {
                return Err(Error::msg(format!(
                    "destination directory {parent} does not exist"
                )));
            }
            (PathBuf::from(parent), Some(base_name(dst)), false)
        }
    };
    let mut archive = tar::Archive::new(&mut body);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let Some(rel) = rebase(&entry.path()?, rename.as_deref(), drop_top) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let out = target.join(&rel);
        if let Some(p) = out.parent() {
            fs::create_dir_all(p)?;
        }
        entry.unpack(&out)?;
    }
    io::copy(&mut body, &mut io::sink())?;
    done(a, body.n, dst);
    Ok(0)
}

fn copy_to(client: &Client, a: &CpArgs, src: &str, container: &str, path: &str) -> Result<i32> {
    let base = format!("{}/archive", cpath(container));
    let put_q = |dir: &str| {
        let mut q = vec![
            ("path", dir.to_string()),
            ("noOverwriteDirNonDir", "true".to_string()),
        ];
        if a.archive {
            q.push(("copyUIDGID", "true".into()));
        }
        query(&q)
    };
    if src == "-" {
        client
            .req("PUT", &format!("{base}{}", put_q(path)))
            .stream(Box::new(io::stdin()), "application/x-tar", None)
            .call()?
            .drain()?;
        return Ok(0);
    }
    let meta = if a.follow_link {
        fs::metadata(src)
    } else {
        fs::symlink_metadata(src)
    }
    .map_err(|e| Error::msg(format!("lstat {src}: {}", io_text(&e))))?;
    let src_dir = meta.is_dir();
    let contents_only = src.ends_with("/.");
    let head = client
        .req(
            "HEAD",
            &format!("{base}{}", query(&[("path", path.to_string())])),
        )
        .send()?;
    let (dir, name, flatten) = match head.status {
        200 => {
            let st = path_stat(&head).unwrap_or(Value::Null);
            if is_dir(&st) {
                (path.to_string(), base_name(src), contents_only && src_dir)
            } else if src_dir {
                return Err(Error::msg("cannot copy a directory to a file"));
            } else {
                (parent_of(path), base_name(path), false)
            }
        }
        404 => (parent_of(path), base_name(path), false),
        _ => {
            head.error_for_status()?;
            return Err(Error::Protocol("unexpected answer to HEAD archive".into()));
        }
    };
    let (reader, writer) = io::pipe()?;
    let src_owned = src.to_string();
    let follow = a.follow_link;
    let builder = thread::spawn(move || -> io::Result<()> {
        let mut b = tar::Builder::new(writer);
        b.follow_symlinks(follow);
        if src_dir && flatten {
            b.append_dir_all(".", &src_owned)?;
        } else if src_dir {
            b.append_dir_all(&name, &src_owned)?;
        } else {
            b.append_path_with_name(&src_owned, &name)?;
        }
        b.into_inner()?;
        Ok(())
    });
    let counting = Counting {
        inner: reader,
        n: 0,
    };
    let sent = client
        .req("PUT", &format!("{base}{}", put_q(&dir)))
        .stream(Box::new(counting), "application/x-tar", None)
        .call()
        .and_then(Response::drain);
    let built = builder
        .join()
        .map_err(|_| Error::msg("the archive thread failed"))?;
    sent?;
    built?;
    done(a, 0, &format!("{container}:{path}"));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands() {
        assert_eq!(
            split_arg("web:/etc/hosts"),
            Loc::Container("web".into(), "/etc/hosts".into())
        );
        assert_eq!(split_arg("/tmp/a:b"), Loc::Local("/tmp/a:b".into()));
        assert_eq!(split_arg("./x"), Loc::Local("./x".into()));
        assert_eq!(split_arg("file"), Loc::Local("file".into()));
    }

    #[test]
    fn rebasing() {
        let p = Path::new;
        assert_eq!(
            rebase(p("hosts"), Some("h2"), false),
            Some(PathBuf::from("h2"))
        );
        assert_eq!(
            rebase(p("dir/a/b"), Some("new"), false),
            Some(PathBuf::from("new/a/b"))
        );
        assert_eq!(rebase(p("dir/a"), None, true), Some(PathBuf::from("a")));
        assert_eq!(rebase(p("./a/b"), None, true), Some(PathBuf::from("a/b")));
        assert_eq!(
            rebase(p("./a"), Some("new"), false),
            Some(PathBuf::from("new/a"))
        );
        assert_eq!(rebase(p("dir/../../x"), None, false), None);
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(parent_of("b"), ".");
    }
}
