//! Healthchecks (an image's `HEALTHCHECK`, `docker run --health-*`): a running container
//! with a test gets a thread that runs it as an exec every interval, keeps the last five
//! results and the status (starting, healthy, unhealthy) in the record, and reports each
//! change of status as a `health_status: ...` event, as dockerd does.

use crate::container::Status;
use crate::engine::Engine;
use crate::exec::ExecConfig;
use crate::model::HealthConfig;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// docker's defaults: 30 s between probes, 30 s for one, 3 failures in a row.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
/// Results kept, and bytes of output kept per result (dockerd's numbers).
const KEPT: usize = 5;
const MAX_OUTPUT: usize = 4096;

/// `State.Health` in `inspect`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<Probe>,
}

/// One probe's result.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Probe {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// A healthcheck made ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub cmd: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
}

/// The check a config asks for: none for no test or `NONE`.
pub fn check_of(h: Option<&HealthConfig>) -> Option<Check> {
    let h = h?;
    let test = h.test.as_deref().unwrap_or_default();
    let cmd = match test.split_first() {
        Some((kind, args)) if kind == "CMD" && !args.is_empty() => args.to_vec(),
        Some((kind, [line])) if kind == "CMD-SHELL" => {
            vec!["/bin/sh".into(), "-c".into(), line.clone()]
        }
        _ => return None,
    };
    let dur = |ns: i64, default: Duration| {
        if ns > 0 {
            Duration::from_nanos(ns as u64)
        } else {
            default
        }
    };
    let interval = dur(h.interval, DEFAULT_INTERVAL);
    Some(Check {
        cmd,
        interval,
        timeout: dur(h.timeout, DEFAULT_TIMEOUT),
        start_period: dur(h.start_period, Duration::ZERO),
        start_interval: dur(h.start_interval, interval),
        retries: if h.retries > 0 {
            h.retries as u32
        } else {
            DEFAULT_RETRIES
        },
    })
}

/// The user's healthcheck over the image's: the user's test, or the image's when the user
/// gave only timings; `NONE` switches an image's off.
pub fn merge(user: Option<HealthConfig>, image: Option<HealthConfig>) -> Option<HealthConfig> {
    match (user, image) {
        (None, i) => i,
        (Some(mut u), Some(i)) if u.test.as_ref().is_none_or(|t| t.is_empty()) => {
            u.test = i.test;
            Some(u)
        }
        (u, _) => u,
    }
}

/// dockerd's checks of the timings.
pub fn validate(h: Option<&HealthConfig>) -> crate::error::Result<()> {
    let Some(h) = h else { return Ok(()) };
    let bad = |m: &str| Err(crate::error::Error::Invalid(m.to_string()));
    let ms = 1_000_000;
    for (v, name) in [
        (h.interval, "Interval"),
        (h.timeout, "Timeout"),
        (h.start_period, "StartPeriod"),
        (h.start_interval, "StartInterval"),
    ] {
        if v != 0 && v < ms {
            return bad(&format!("{name} in Healthcheck cannot be less than 1ms"));
        }
    }
    if h.retries < 0 {
        return bad("Retries in Healthcheck cannot be negative");
    }
    Ok(())
}

/// The status after a probe: `ok`, and whether the start period still runs (failures then
/// do not count while the status is still `starting`).
fn next(h: &mut Health, probe: Probe, retries: u32, in_start: bool) {
    if probe.exit_code == 0 {
        h.failing_streak = 0;
        h.status = "healthy".into();
    } else if !(in_start && h.status == "starting") {
        h.failing_streak += 1;
        if h.failing_streak >= retries {
            h.status = "unhealthy".into();
        }
    }
    h.log.push(probe);
    if h.log.len() > KEPT {
        h.log.remove(0);
    }
}

fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

impl Engine {
    /// Start the healthcheck thread of a running container that has one. `fresh`: the
    /// container has just started (the status begins again at `starting`).
    pub(crate) fn watch_health(self: &Arc<Self>, id: &str, fresh: bool) {
        let Ok(rec) = self.find(id) else { return };
        let Some(check) = check_of(rec.config.healthcheck.as_ref()) else {
            return;
        };
        if fresh || rec.state.health.is_none() {
            let _ = self.update(id, |r| {
                r.state.health = Some(Health {
                    status: "starting".into(),
                    ..Health::default()
                })
            });
        }
        let me = Arc::clone(self);
        let id_ = id.to_string();
        let started_at = rec.state.started_at.clone();
        let spawned = std::thread::Builder::new()
            .name("health".into())
            .spawn(move || me.health_loop(&id_, &started_at, &check));
        if let Err(e) = spawned {
            eprintln!("berth: no healthcheck for {id}: {e}");
        }
    }

    fn health_loop(self: &Arc<Self>, id: &str, started_at: &str, check: &Check) {
        let began = Instant::now();
        loop {
            let in_start = began.elapsed() < check.start_period;
            std::thread::sleep(if in_start {
                check.start_interval
            } else {
                check.interval
            });
            let Ok(rec) = self.find(id) else { return };
            if rec.state.started_at != started_at || !rec.state.status.is_live() {
                return;
            }
            if rec.state.status != Status::Running {
                continue;
            }
            let probe = self.probe(id, check);
            let in_start = began.elapsed() < check.start_period;
            let before = rec.state.health.as_ref().map(|h| h.status.clone());
            let updated = self.update(id, |r| {
                if r.state.started_at == started_at {
                    let h = r.state.health.get_or_insert_with(Health::default);
                    next(h, probe.clone(), check.retries, in_start);
                }
            });
            let Ok(rec) = updated else { return };
            let after = rec.state.health.as_ref().map(|h| h.status.clone());
            if after != before {
                let status = after.unwrap_or_default();
                self.emit(&rec, &format!("health_status: {status}"));
            }
        }
    }

    /// Run the test once as an exec: its exit code and output, or -1 when it could not run
    /// or ran past the timeout (then it is killed).
    fn probe(self: &Arc<Self>, id: &str, check: &Check) -> Probe {
        let start = now();
        let end_by = Instant::now() + check.timeout;
        let failed = |msg: String| Probe {
            start: start.clone(),
            end: now(),
            exit_code: -1,
            output: msg,
        };
        let cfg = ExecConfig {
            attach_stdout: true,
            attach_stderr: true,
            cmd: Some(check.cmd.clone()),
            ..ExecConfig::default()
        };
        let exec_id = match self.exec_create(id, cfg) {
            Ok(x) => x,
            Err(e) => return failed(e.to_string()),
        };
        let result = self.probe_exec(&exec_id, end_by);
        let probe = match result {
            Ok((code, output)) => Probe {
                start: start.clone(),
                end: now(),
                exit_code: code,
                output,
            },
            Err(None) => failed(format!(
                "Health check exceeded timeout ({:?})",
                check.timeout
            )),
            Err(Some(e)) => failed(format!("the health check could not run: {e}")),
        };
        self.forget_exec(&exec_id);
        probe
    }

    /// Start the exec, read its output until it ends or `end_by`: Err(None) on timeout,
    /// Err(Some(why)) when it could not run.
    fn probe_exec(
        self: &Arc<Self>,
        exec_id: &str,
        end_by: Instant,
    ) -> Result<(i64, String), Option<String>> {
        let dir = self.exec_start(exec_id).map_err(|e| Some(e.to_string()))?;
        // A probe that printed nothing may be over, its shim gone, before this attaches:
        // then there is no output to read, and its exit code is read below all the same.
        let attached = berth_shim::Client::connect(&dir).and_then(|c| c.attach(false, true, true));
        let mut raw = Vec::new();
        if let Ok(mut stream) = attached.as_ref() {
            let mut buf = [0u8; 4096];
            loop {
                let left = end_by.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    self.kill_exec(exec_id);
                    return Err(None);
                }
                let _ = stream.set_read_timeout(Some(left));
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if raw.len() < 4 * MAX_OUTPUT {
                            raw.extend_from_slice(&buf[..n]);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) if Instant::now() >= end_by => {
                        self.kill_exec(exec_id);
                        return Err(None);
                    }
                    Err(_) => break,
                }
            }
        }
        let left = end_by.saturating_duration_since(Instant::now());
        let Some(code) = self.exec_wait(exec_id, left.max(Duration::from_millis(100))) else {
            self.kill_exec(exec_id);
            return match attached {
                Err(e) => Err(Some(e.to_string())),
                Ok(_) => Err(None),
            };
        };
        let mut out = demux(&raw);
        out.truncate(MAX_OUTPUT);
        Ok((i64::from(code), String::from_utf8_lossy(&out).into_owned()))
    }
}

/// stdout and stderr of docker's framed stream (8-byte headers), together.
fn demux(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while rest.len() >= 8 {
        let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + len).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(test: &[&str]) -> HealthConfig {
        HealthConfig {
            test: Some(test.iter().map(|s| s.to_string()).collect()),
            ..HealthConfig::default()
        }
    }

    #[test]
    fn tests_become_commands() {
        let c = check_of(Some(&cfg(&["CMD-SHELL", "curl -f x || exit 1"]))).unwrap();
        assert_eq!(c.cmd, ["/bin/sh", "-c", "curl -f x || exit 1"]);
        assert_eq!((c.interval, c.retries), (DEFAULT_INTERVAL, 3));
        assert_eq!(
            check_of(Some(&cfg(&["CMD", "true"]))).unwrap().cmd,
            ["true"]
        );
        assert_eq!(check_of(Some(&cfg(&["NONE"]))), None);
        assert_eq!(check_of(Some(&cfg(&[]))), None);
        assert_eq!(check_of(None), None);
        let timings = HealthConfig {
            interval: 2_000_000_000,
            ..HealthConfig::default()
        };
        let m = merge(Some(timings), Some(cfg(&["CMD", "true"]))).unwrap();
        assert_eq!(
            (m.interval, m.test),
            (2_000_000_000, Some(vec!["CMD".into(), "true".into()]))
        );
        assert_eq!(
            merge(Some(cfg(&["NONE"])), Some(cfg(&["CMD", "true"]))),
            Some(cfg(&["NONE"]))
        );
        let e = validate(Some(&HealthConfig {
            interval: 5,
            ..HealthConfig::default()
        }));
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("Interval in Healthcheck cannot be less than 1ms"));
    }

    #[test]
    fn the_status_follows_the_probes() {
        let mut h = Health {
            status: "starting".into(),
            ..Health::default()
        };
        let p = |code| Probe {
            exit_code: code,
            ..Probe::default()
        };
        next(&mut h, p(1), 2, true);
        assert_eq!(
            (h.status.as_str(), h.failing_streak),
            ("starting", 0),
            "start period"
        );
        next(&mut h, p(0), 2, true);
        assert_eq!(h.status, "healthy");
        next(&mut h, p(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 1));
        next(&mut h, p(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        for _ in 0..5 {
            next(&mut h, p(0), 2, false);
        }
        assert_eq!((h.status.as_str(), h.log.len()), ("healthy", KEPT));
        let framed = [
            &[1u8, 0, 0, 0, 0, 0, 0, 2][..],
            b"ok",
            &[2, 0, 0, 0, 0, 0, 0, 1],
            b"!",
        ]
        .concat();
        assert_eq!(demux(&framed), b"ok!");
    }
}
