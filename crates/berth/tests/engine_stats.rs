//! `docker stats` against berth: one sample (`--no-stream`) with the memory limit and pids,
//! and the streaming form, where each sample carries the previous CPU counters so the CLI
//! shows a busy container's CPU % and its network bytes.

mod engine;

use engine::{stdout, Daemon};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn stats_sample_once_and_stream_cpu_and_network() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "run", "-d", "--name", "st-idle", "-m", "64m", "busybox", "sleep", "600",
    ]);
    let once = d.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.MemUsage}}|{{.PIDs}}",
        "st-idle",
    ]);
    let f: Vec<&str> = once.split('|').collect();
    assert_eq!(f[0], "st-idle", "{once}");
    assert!(f[1].ends_with("/ 64MiB"), "memory limit in {once}");
    assert_eq!(f[2], "1", "{once}");

    // a busy loop held to half a CPU, which has sent a few packets to its gateway
    d.ok(&[
        "run", "-d", "--name", "st-busy", "--cpus", "0.5", "busybox", "sh", "-c",
        "busybox ping -c 3 -W 1 $(busybox ip route | busybox awk '/default/ {print $3}'); while :; do :; done",
    ]);
    let mut child = d
        .docker_cmd(&[
            "stats",
            "--format",
            "{{.Name}}|{{.CPUPerc}}|{{.NetIO}}",
            "st-busy",
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let end = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let mut busy = false;
    while Instant::now() < end && !busy {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) else {
            continue;
        };
        // the CLI redraws with escapes (cursor home, clear line); the fields follow them
        let f: Vec<String> = match line.find("st-busy|") {
            Some(i) => line[i..].split('|').map(str::to_string).collect(),
            None => Vec::new(),
        };
        if f.len() == 3 && f[0] == "st-busy" {
            let cpu: f64 = f[1].trim_end_matches('%').parse().unwrap_or(0.0);
            let rx_bytes_nonzero = !f[2].starts_with("0B /");
            busy = cpu > 20.0 && cpu < 80.0 && rx_bytes_nonzero;
        }
        seen.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        busy,
        "the stream should show about 50% CPU and network bytes for st-busy: {seen:?}"
    );
    // after the container is gone, stats says so
    d.ok(&["rm", "-f", "st-busy", "st-idle"]);
    let gone = d.docker(&["stats", "--no-stream", "st-busy"]);
    assert!(!gone.status.success(), "{}", stdout(&gone));
}
