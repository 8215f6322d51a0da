//! The shim's command line: `start ...` or `exec ...` (docs/shim.md, "Invocation").

use berth_shim::{Error, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What to run.
#[derive(Debug)]
pub enum Mode {
    /// Create the container from `bundle`, logging its output.
    Start {
        bundle: PathBuf,
        log_max_size: Option<u64>,
        log_max_file: Option<u32>,
    },
    /// Run the OCI process in `process` inside the running container.
    Exec { process: PathBuf },
}

/// The parsed command line; every path is absolute (the shim changes to `/`).
#[derive(Debug)]
pub struct Args {
    pub mode: Mode,
    pub id: String,
    pub runtime_root: PathBuf,
    pub dir: PathBuf,
    pub tty: bool,
    pub stdin: bool,
}

pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Args> {
    let mut it = argv.into_iter();
    let sub = it
        .next()
        .ok_or_else(|| Error::Usage("berth-shim start|exec ...".into()))?;
    let (mut id, mut bundle, mut root, mut dir, mut process) = (None, None, None, None, None);
    let (mut tty, mut stdin, mut max_size, mut max_file) = (false, false, None, None);
    while let Some(a) = it.next() {
        let name = a.to_string_lossy().into_owned();
        let mut value = || {
            it.next()
                .ok_or_else(|| Error::Usage(format!("{name} needs a value")))
        };
        match name.as_str() {
            "--id" => id = Some(value()?.to_string_lossy().into_owned()),
            "--bundle" => bundle = Some(abs(&value()?)?),
            "--runtime-root" => root = Some(abs(&value()?)?),
            "--dir" => dir = Some(abs(&value()?)?),
            "--process" => process = Some(abs(&value()?)?),
            "--log-max-size" => max_size = Some(number(&name, &value()?)?),
            "--log-max-file" => max_file = Some(number(&name, &value()?)?),
            "--tty" => tty = true,
            "--stdin" => stdin = true,
            _ => return Err(Error::Usage(format!("unknown argument {name:?}"))),
        }
    }
    let need =
        |v: Option<PathBuf>, n: &str| v.ok_or_else(|| Error::Usage(format!("{n} is required")));
    let mode = match sub.to_str() {
        Some("start") => Mode::Start {
            bundle: need(bundle, "--bundle")?,
            log_max_size: max_size,
            log_max_file: max_file,
        },
        Some("exec") => Mode::Exec {
            process: need(process, "--process")?,
        },
        _ => {
            return Err(Error::Usage(format!(
                "unknown command {sub:?}: start or exec"
            )))
        }
    };
    Ok(Args {
        mode,
        id: id.ok_or_else(|| Error::Usage("--id is required".into()))?,
        runtime_root: need(root, "--runtime-root")?,
        dir: need(dir, "--dir")?,
        tty,
        stdin,
    })
}

fn abs(p: &OsString) -> Result<PathBuf> {
    std::path::absolute(Path::new(p))
        .map_err(|e| Error::Usage(format!("path {}: {e}", Path::new(p).display())))
}

fn number<T: std::str::FromStr>(name: &str, v: &OsString) -> Result<T> {
    v.to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Usage(format!("{name}: not a number: {v:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn start_and_exec_parse() {
        let a = parse(argv(
            "start --id c1 --bundle /b --runtime-root /r --dir /d --tty --log-max-size 100 --log-max-file 3",
        ))
        .unwrap();
        assert!(a.tty && !a.stdin);
        assert_eq!(a.id, "c1");
        match a.mode {
            Mode::Start {
                log_max_size,
                log_max_file,
                ..
            } => assert_eq!((log_max_size, log_max_file), (Some(100), Some(3))),
            m => panic!("{m:?}"),
        }
        let a = parse(argv(
            "exec --id c1 --runtime-root /r --dir d --process /p --stdin",
        ))
        .unwrap();
        assert!(a.stdin && a.dir.is_absolute());
    }

    #[test]
    fn mistakes_are_usage_errors() {
        for bad in [
            "",
            "run --id x",
            "start --id x --runtime-root /r --dir /d",
            "exec --id x --runtime-root /r --dir /d",
            "start --id",
            "start --bogus",
            "start --id x --bundle /b --runtime-root /r --dir /d --log-max-size big",
        ] {
            let v = if bad.is_empty() { vec![] } else { argv(bad) };
            assert!(matches!(parse(v), Err(Error::Usage(_))), "{bad}");
        }
    }
}
