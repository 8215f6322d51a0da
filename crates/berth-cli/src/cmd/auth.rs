//! `login` / `logout` and the credentials file (~/.berth/config.json, mode 0600) whose
//! entries become the base64 `X-Registry-Auth` header of pull and push.

use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use clap::Args;
use nix::sys::termios::{self, LocalFlags, SetArg};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::http::Client;
use crate::output::{errln, out, outln};
use crate::reference::DEFAULT_DOMAIN;
use crate::term;

/// The key docker uses for Docker Hub credentials.
pub const HUB_SERVER: &str = "https://index.docker.io/v1/";

/// `login [OPTIONS] [SERVER]`
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    pub server: Option<String>,
}

/// `logout [SERVER]`
#[derive(Args, Debug)]
pub struct LogoutArgs {
    pub server: Option<String>,
}

/// The credentials file.
pub fn config_path() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".berth").join("config.json")
}

fn load() -> Value {
    fs::read(config_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({"auths": {}}))
}

fn save(cfg: &Value) -> Result<()> {
    let path = config_path();
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(serde_json::to_string_pretty(cfg)?.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(())
}

/// The credentials key for a server or registry domain.
pub fn server_key(server: &str) -> String {
    let s = server.trim_end_matches('/');
    match s {
        ""
        | "docker.io"
        | "index.docker.io"
        | "registry-1.docker.io"
        | "https://index.docker.io/v1" => HUB_SERVER.to_string(),
        _ => s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s)
            .to_string(),
    }
}

/// The `X-Registry-Auth` value for a registry domain: base64url JSON credentials, or `{}`.
pub fn registry_auth(domain: &str) -> String {
    let key = if domain == DEFAULT_DOMAIN {
        HUB_SERVER.to_string()
    } else {
        server_key(domain)
    };
    let cfg = load();
    let entry = &cfg["auths"][&key];
    let decoded = entry["auth"]
        .as_str()
        .and_then(|a| STANDARD.decode(a).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let body = match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((user, pass)) => json!({"username": user, "password": pass, "serveraddress": key}),
        None => match entry["identitytoken"].as_str() {
            Some(t) => json!({"identitytoken": t, "serveraddress": key}),
            None => json!({}),
        },
    };
    URL_SAFE.encode(body.to_string())
}

fn prompt(label: &str) -> Result<String> {
    out(label)?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn prompt_hidden(label: &str) -> Result<String> {
    let stdin = io::stdin();
    if !term::stdin_is_tty() {
        return prompt(label);
    }
    let saved = termios::tcgetattr(&stdin).map_err(io::Error::from)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(io::Error::from)?;
    let answer = prompt(label);
    let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    outln("")?;
    answer
}

/// `berth login`.
pub fn login(client: &Client, a: &LoginArgs) -> Result<i32> {
    let key = server_key(a.server.as_deref().unwrap_or(""));
    if a.password.is_some() && a.password_stdin {
        return Err(Error::usage(
            "--password and --password-stdin are mutually exclusive",
        ));
    }
    let username = match &a.username {
        Some(u) => u.clone(),
        None if a.password_stdin => {
            return Err(Error::usage(
                "Must provide --username with --password-stdin",
            ))
        }
        None => prompt("Username: ")?,
    };
    let password = if a.password_stdin {
        let mut s = String::new();
        io::stdin().read_to_string(&mut s)?;
        s.trim_end_matches(['\r', '\n']).to_string()
    } else if let Some(p) = &a.password {
        errln("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p.clone()
    } else {
        prompt_hidden("Password: ")?
    };
    if username.is_empty() || password.is_empty() {
        return Err(Error::msg("Error: Username and password are required"));
    }
    let resp = client.post_json(
        "/auth",
        Some(&json!({"username": username, "password": password, "serveraddress": key})),
    )?;
    let mut cfg = load();
    let mut entry = json!({"auth": STANDARD.encode(format!("{username}:{password}"))});
    if let Some(t) = resp["IdentityToken"].as_str().filter(|t| !t.is_empty()) {
        entry["identitytoken"] = json!(t);
    }
    if !cfg["auths"].is_object() {
        cfg["auths"] = json!({});
    }
    cfg["auths"][&key] = entry;
    save(&cfg)?;
    let status = resp["Status"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("Login Succeeded");
    outln(status)?;
    Ok(0)
}

/// `berth logout`.
pub fn logout(a: &LogoutArgs) -> Result<i32> {
    let key = server_key(a.server.as_deref().unwrap_or(""));
    let mut cfg = load();
    let removed = cfg["auths"]
        .as_object_mut()
        .and_then(|m| m.remove(&key))
        .is_some();
    if !removed {
        outln(&format!("Not logged in to {key}"))?;
        return Ok(0);
    }
    outln(&format!("Removing login credentials for {key}"))?;
    save(&cfg)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_keys() {
        assert_eq!(server_key(""), HUB_SERVER);
        assert_eq!(server_key("docker.io"), HUB_SERVER);
        assert_eq!(server_key("https://myreg:5000/"), "myreg:5000");
    }
}
