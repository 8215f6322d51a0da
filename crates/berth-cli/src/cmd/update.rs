//! `berth update`: new resource limits or restart policy for containers, as `docker update`.

use clap::Args;
use serde_json::Value;

use super::run_flags::ResourceFlags;
use super::{cpath, each};
use crate::error::{Error, Result};
use crate::http::Client;
use crate::opts;

/// `update [OPTIONS] CONTAINER...`
#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub res: ResourceFlags,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// The `UpdateConfig` body: only the flags given.
fn body(a: &UpdateArgs) -> Result<Value> {
    let mut b = a.res.given()?;
    if let Some(r) = &a.restart {
        b.insert("RestartPolicy".into(), opts::restart_policy(r)?);
    }
    if b.is_empty() {
        return Err(Error::usage(
            "you must provide one or more flags when using this command",
        ));
    }
    Ok(Value::Object(b))
}

/// `berth update`: prints each container updated; the daemon's refusal otherwise.
pub fn update(client: &Client, a: &UpdateArgs) -> Result<i32> {
    let body = body(a)?;
    each(&a.containers, true, |c| {
        client
            .post_json(&format!("{}/update", cpath(c)), Some(&body))
            .map(drop)
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: UpdateArgs,
    }

    fn parse(args: &[&str]) -> Result<Value> {
        let mut all = vec!["update"];
        all.extend(args);
        body(&T::try_parse_from(all).expect("parse").a)
    }

    #[test]
    fn only_given_flags_are_sent() {
        let b = parse(&["-m", "64m", "--pids-limit", "-1", "--cpus", "0.5", "c1"]).unwrap();
        assert_eq!(
            b,
            json!({"Memory": 64 << 20, "PidsLimit": -1, "NanoCpus": 500_000_000})
        );
        let b = parse(&["--restart", "on-failure:3", "c1"]).unwrap();
        assert_eq!(
            b,
            json!({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}})
        );
        let e = parse(&["c1"]).unwrap_err().to_string();
        assert!(e.contains("you must provide one or more flags"), "{e}");
        let e = parse(&["-m", "lots", "c1"]).unwrap_err().to_string();
        assert!(
            e.contains("invalid argument \"lots\" for \"-m, --memory\" flag"),
            "{e}"
        );
    }
}
