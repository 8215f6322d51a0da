//! The Python docker SDK (`docker` package) against `berth daemon`: `tests/sdk/docker_sdk.py`
//! drives version/info, images, containers (run attached and detached, logs, exec, wait,
//! stop/kill/remove, inspect fields, list filters, published ports), volumes and errors.
//! Every Python with the `docker` module is used (the system one and a PATH one may carry
//! different SDK versions); the test is skipped when there is none.

mod engine;

use engine::{stderr, stdout, Daemon};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Interpreters that can `import docker`, one per distinct (executable, SDK version).
fn pythons() -> Vec<(PathBuf, String)> {
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    for cand in ["python3", "/usr/bin/python3"] {
        let Ok(out) = Command::new(cand)
            .args([
                "-c",
                "import os, sys, docker; print(os.path.realpath(sys.executable)); print(docker.__version__)",
            ])
            .output()
        else {
            continue;
        };
        if !out.status.success() {
            continue;
        }
        let text = stdout(&out);
        let mut lines = text.lines();
        let (Some(exe), Some(ver)) = (lines.next(), lines.next()) else {
            continue;
        };
        let key = (PathBuf::from(exe), ver.to_string());
        if !found.contains(&key) {
            found.push(key);
        }
    }
    found
}

#[test]
fn python_docker_sdk_drives_berth() {
    if !engine::usable() {
        return;
    }
    let pys = pythons();
    if pys.is_empty() {
        eprintln!("SKIP: no python3 with the docker module (apt-get install python3-docker)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/docker_sdk.py");
    for (py, ver) in pys {
        let d = Daemon::start();
        // nsenter (for the published-port fetch) and busybox must be on the script's PATH.
        let out = Command::new(&py)
            .arg(&script)
            .arg(&d.sock)
            .arg(d.holder_pid().to_string())
            .output()
            .unwrap();
        eprintln!("{} (docker {ver}):\n{}", py.display(), stdout(&out));
        assert!(
            out.status.success(),
            "{} with docker {ver} failed:\n{}\n{}\ndaemon log:\n{}",
            py.display(),
            stdout(&out),
            stderr(&out),
            d.log()
        );
        assert!(stdout(&out).ends_with("ok\n"), "{}", stdout(&out));
        assert!(d.all_ids().is_empty(), "the script left containers behind");
    }
}
