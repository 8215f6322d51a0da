//! Test helpers: a real `docker-registry` process per test, a tiny fake HTTP server,
//! a small image built into a store, and a progress recorder.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use berth_image::manifest::media_types as mt;
use berth_image::registry::{BlobOutcome, Progress};
use berth_image::{Digest, Store};
use flate2::write::GzEncoder;
use serde_json::json;

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `docker-registry` on 127.0.0.1, killed on drop.
pub struct RegistryProc {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl RegistryProc {
    /// `None` when the binary is missing (the test is then skipped with a note).
    pub fn start(htpasswd: Option<(&str, &str)>) -> Option<Self> {
        if !Path::new(REGISTRY_BIN).exists() {
            eprintln!("skipping: {REGISTRY_BIN} missing (apt-get install docker-registry)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut auth = String::new();
        if let Some((user, pass)) = htpasswd {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd (apt-get install apache2-utils)");
            assert!(out.status.success());
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, out.stdout).unwrap();
            auth = format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                file.display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n{auth}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let proc = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ok = ureq::get(format!("http://127.0.0.1:{port}/v2/"))
                .config()
                .http_status_as_error(false)
                .build()
                .call()
                .is_ok();
            if ok {
                return Some(proc);
            }
            assert!(
                Instant::now() < deadline,
                "registry did not start: {}",
                proc.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn domain(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for RegistryProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A tar with one file per `(name, content)`.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub struct TestImage {
    pub manifest: Digest,
    pub manifest_bytes: Vec<u8>,
    pub config: Digest,
    pub layers: Vec<Digest>,
}

impl TestImage {
    pub fn blobs(&self) -> Vec<Digest> {
        let mut v = vec![self.config.clone()];
        v.extend(self.layers.iter().cloned());
        v
    }
}

/// Two gzip layers, an OCI config and manifest for `arch`, stored in `store`.
pub fn build_image(store: &Store, arch: &str, seed: &str) -> TestImage {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    let mut descs = Vec::new();
    for i in 0..2 {
        let content = format!("{seed} layer {i} {}", "x".repeat(1000 * (i + 1)));
        let tar = tar_of(&[(&format!("file{i}.txt"), content.as_bytes())]);
        diff_ids.push(Digest::of_bytes(&tar).to_string());
        let gz = gzip(&tar);
        let d = store.put_bytes(&gz).unwrap();
        descs.push(
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                          "digest": d.to_string(), "size": gz.len()}),
        );
        layers.push(d);
    }
    let config = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_digest = store.put_bytes(&config).unwrap();
    let manifest_bytes = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": mt::OCI_MANIFEST,
        "config": {"mediaType": mt::OCI_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let manifest = store.put_bytes(&manifest_bytes).unwrap();
    TestImage {
        manifest,
        manifest_bytes,
        config: config_digest,
        layers,
    }
}

/// Records every finished blob.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<(Digest, BlobOutcome)>>);

impl Progress for Recorder {
    fn finished(&self, digest: &Digest, outcome: &BlobOutcome) {
        self.0
            .lock()
            .unwrap()
            .push((digest.clone(), outcome.clone()));
    }
}

impl Recorder {
    pub fn take(&self) -> Vec<(Digest, BlobOutcome)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// One canned answer: status line, headers, body; `truncate_at` cuts the body and
/// closes the connection there.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub truncate_at: Option<usize>,
    pub content_length: bool,
    /// Answer 401 with this `WWW-Authenticate` unless the request carries
    /// `Authorization: <.1>`.
    pub require: Option<(String, String)>,
}

impl Canned {
    pub fn ok(content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            truncate_at: None,
            content_length: true,
            require: None,
        }
    }
}

/// A one-thread HTTP/1.1 server answering `path -> Canned` (404 otherwise), one
/// request per connection. Records the paths asked for.
pub struct FakeServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl FakeServer {
    pub fn start(routes: Vec<(String, Canned)>) -> Self {
        Self::start_on(0, routes)
    }

    pub fn start_on(port: u16, routes: Vec<(String, Canned)>) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let _ = serve(conn, &routes, &seen);
            }
        });
        Self { port, requests }
    }

    pub fn domain(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn serve(
    mut conn: TcpStream,
    routes: &[(String, Canned)],
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_string());
            }
        }
    }
    let path = first.split(' ').nth(1).unwrap_or("").to_string();
    seen.lock().unwrap().push(path.clone());
    let canned = routes
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, c)| c.clone())
        .unwrap_or(Canned {
            status: 404,
            headers: vec![],
            body: vec![],
            truncate_at: None,
            content_length: true,
            require: None,
        });
    let mut canned = canned;
    if let Some((challenge, want)) = canned.require.clone() {
        if authorization.as_deref() != Some(want.as_str()) {
            canned.status = 401;
            canned.body.clear();
            canned.headers = vec![("WWW-Authenticate".into(), challenge)];
        }
    }
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", canned.status);
    for (k, v) in &canned.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if canned.content_length {
        head.push_str(&format!("Content-Length: {}\r\n", canned.body.len()));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    let end = canned.truncate_at.unwrap_or(canned.body.len());
    conn.write_all(&canned.body[..end])?;
    conn.flush()
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        out.push(e.unwrap().path());
    }
    out.sort();
    out
}
