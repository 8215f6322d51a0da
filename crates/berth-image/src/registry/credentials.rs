//! The docker `config.json`-style credentials file behind `login`/`logout`, written
//! atomically with mode 0600 in a 0700 directory.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::auth::BasicAuth;
use crate::error::{io_err, Error, Result};

/// The docker `config.json`-style credentials file: `{"auths": {"host": {"auth":
/// base64(user:pass)}}}`; other keys in the file are kept as they are.
#[derive(Clone, Debug)]
pub struct Credentials {
    path: PathBuf,
}

/// The key docker uses for Docker Hub in `auths`.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

fn keys_for(registry: &str) -> Vec<String> {
    let mut keys = vec![registry.to_string()];
    if matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        keys.extend(
            [
                DOCKER_HUB_KEY,
                "docker.io",
                "index.docker.io",
                "registry-1.docker.io",
            ]
            .map(String::from),
        );
    }
    keys
}

impl Credentials {
    /// A store backed by `path` (created on the first `login`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file behind this store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load(&self) -> Result<Map<String, Value>> {
        let data = match fs::read(&self.path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(io_err(format!("reading {}", self.path.display()))(e)),
        };
        match serde_json::from_slice(&data) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(Error::Credentials(format!(
                "{} is not a JSON object",
                self.path.display()
            ))),
            Err(source) => Err(Error::Json {
                context: format!("parsing {}", self.path.display()),
                source,
            }),
        }
    }

    /// The credentials stored for `registry` (a reference domain like `docker.io`
    /// or `localhost:5000`).
    pub fn get(&self, registry: &str) -> Result<Option<BasicAuth>> {
        let doc = self.load()?;
        let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        for key in keys_for(registry) {
            let Some(auth) = auths.get(&key).and_then(|e| e.get("auth")?.as_str()) else {
                continue;
            };
            let bad = || Error::Credentials(format!("bad auth entry for {key}"));
            let raw = B64.decode(auth.trim()).map_err(|_| bad())?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            let (user, pass) = text.split_once(':').ok_or_else(bad)?;
            return Ok(Some(BasicAuth {
                username: user.to_string(),
                password: pass.to_string(),
            }));
        }
        Ok(None)
    }

    /// Stores credentials for `registry`.
    pub fn login(&self, registry: &str, auth: &BasicAuth) -> Result<()> {
        let mut doc = self.load()?;
        let auths = doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(auths) = auths else {
            return Err(Error::Credentials("\"auths\" is not an object".to_string()));
        };
        let key = if keys_for(registry).len() > 1 {
            DOCKER_HUB_KEY
        } else {
            registry
        };
        let encoded = B64.encode(format!("{}:{}", auth.username, auth.password));
        auths.insert(key.to_string(), serde_json::json!({ "auth": encoded }));
        self.save(&doc)
    }

    /// Forgets credentials for `registry`; returns whether there were any.
    pub fn logout(&self, registry: &str) -> Result<bool> {
        let mut doc = self.load()?;
        let Some(Value::Object(auths)) = doc.get_mut("auths") else {
            return Ok(false);
        };
        let mut removed = false;
        for key in keys_for(registry) {
            removed |= auths.remove(&key).is_some();
        }
        if removed {
            self.save(&doc)?;
        }
        Ok(removed)
    }

    /// Writes the file atomically with mode 0600 (its directory 0700 when created).
    fn save(&self, doc: &Map<String, Value>) -> Result<()> {
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err(format!("creating {}", dir.display())))?;
        let json = serde_json::to_vec_pretty(doc).map_err(|source| Error::Json {
            context: "serialising credentials".to_string(),
            source,
        })?;
        // tempfile creates its files with mode 0600.
        let mut tmp = tempfile::Builder::new()
            .prefix(".credentials.tmp-")
            .tempfile_in(&dir)
            .map_err(io_err(format!(
                "creating temporary file in {}",
                dir.display()
            )))?;
        tmp.write_all(&json)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(io_err("writing credentials"))?;
        tmp.persist(&self.path)
            .map_err(|e| io_err(format!("renaming to {}", self.path.display()))(e.error))?;
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(format!("syncing {}", dir.display())))
    }
}
